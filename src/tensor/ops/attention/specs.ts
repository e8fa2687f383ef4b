import type { OpSpec } from '../../testing/op-spec.js';
import { spec as rotary } from './rotary.spec.js';
import { spec as causalAttention } from './causal-attention.spec.js';

export const specs: OpSpec[] = [rotary, causalAttention];
