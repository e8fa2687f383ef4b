import type { OpSpec } from '../../testing/op-spec.js';
import { spec as rmsnorm } from './rmsnorm.spec.js';
import { spec as layerNorm } from './layer-norm.spec.js';

export const specs: OpSpec[] = [rmsnorm, layerNorm];
