import type { OpSpec } from '../../testing/op-spec.js';
import { spec as binary } from './binary.spec.js';
import { spec as unary } from './unary.spec.js';

export const specs: OpSpec[] = [binary, unary];
