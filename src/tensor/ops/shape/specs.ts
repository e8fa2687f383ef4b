import type { OpSpec } from '../../testing/op-spec.js';
import { spec as broadcast } from './broadcast.spec.js';
import { spec as reshape } from './reshape.spec.js';

export const specs: OpSpec[] = [broadcast, reshape];
