import type { OpSpec } from '../../testing/op-spec.js';
import { spec as sum } from './sum.spec.js';
import { spec as max } from './max.spec.js';
import { spec as softmax } from './softmax.spec.js';

export const specs: OpSpec[] = [sum, max, softmax];
