import type { OpSpec } from '../../testing/op-spec.js';

export const specs: OpSpec[] = [];
