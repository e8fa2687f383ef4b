import type { OpSpec } from '../testing/op-spec.js';
import { specs as elementwise } from './elementwise/specs.js';
import { specs as reduce } from './reduce/specs.js';
import { specs as shape } from './shape/specs.js';
import { specs as linear } from './linear/specs.js';
import { specs as norm } from './norm/specs.js';
import { specs as mamba } from './mamba/specs.js';
import { specs as attention } from './attention/specs.js';
import { specs as loss } from './loss/specs.js';
import { specs as optim } from './optim/specs.js';

export const allSpecs: OpSpec[] = [...elementwise, ...reduce, ...shape, ...linear, ...norm, ...mamba, ...attention, ...loss, ...optim];
