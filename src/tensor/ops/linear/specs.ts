import type { OpSpec } from '../../testing/op-spec.js';
import { spec as matmul } from './matmul.spec.js';

export const specs: OpSpec[] = [matmul];
