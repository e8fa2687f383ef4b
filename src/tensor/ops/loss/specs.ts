import type { OpSpec } from '../../testing/op-spec.js';
import { spec as crossEntropy } from './cross-entropy.spec.js';

export const specs: OpSpec[] = [crossEntropy];
