import type { OpSpec } from '../../testing/op-spec.js';
import { spec as adamwStep } from './adamw-step.spec.js';

export const specs: OpSpec[] = [adamwStep];
