import type { OpSpec } from '../../testing/op-spec.js';
import { spec as broadcast } from './broadcast.spec.js';
import { spec as reshape } from './reshape.spec.js';
import { spec as transpose } from './transpose.spec.js';
import { spec as slice } from './slice.spec.js';
import { spec as concat } from './concat.spec.js';
import { spec as indexSelect } from './index-select.spec.js';
import { spec as embedding } from './embedding.spec.js';
import { spec as where } from './where.spec.js';
import { spec as cast } from './cast.spec.js';

export const specs: OpSpec[] = [broadcast, reshape, transpose, slice, concat, indexSelect, embedding, where, cast];
