import type { OpSpec } from '../../testing/op-spec.js';
import { spec as causalConv1d } from './causal-conv1d.spec.js';
import { spec as selectiveScan } from './selective-scan.spec.js';

export const specs: OpSpec[] = [causalConv1d, selectiveScan];
