import { FactlabError } from '../../tensor/errors.js';
import { tensor } from '../../tensor/creation.js';
import { cast } from '../../tensor/ops/shape/cast.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { LanguageModel } from '../../models/model.js';
import { replaceParam } from '../train/params.js';
import type { EditTarget } from './modules.js';

/** ΔW = r uᵀ on the target's rows: u [keyDim] (the left vector), r [valueDim] (the right vector). */
export interface RankOneUpdate {
  target: EditTarget;
  u: Float64Array;
  r: Float64Array;
}

/** An update in force; `revert` puts the edited rows back exactly as they were. */
export interface AppliedUpdate {
  update: RankOneUpdate;
  readonly reverted: boolean;
  revert(): Promise<void>;
}

function param(model: LanguageModel, name: string): Tensor {
  const t = model.params.get(name);
  if (!t) throw new FactlabError(`ROME: the model has no parameter ${name}`);
  return t;
}

/**
 * Adds r uᵀ to the target rows of the parameter: W[i, j] += r_i u_j, each sum formed in float64 and rounded once to
 * float32. The original rows are kept, so revert restores them bit for bit. A 16-bit parameter is widened to float32
 * for the edit and the original tensor itself is kept for the revert.
 */
export async function applyUpdate(model: LanguageModel, update: RankOneUpdate): Promise<AppliedUpdate> {
  const { target, u, r } = update;
  const W = param(model, target.param);
  const [r0, r1] = target.rows;
  const k = W.shape[1]!;
  if (u.length !== k || r.length !== r1 - r0 || W.rank !== 2 || r1 > W.shape[0]!) {
    throw new FactlabError(`ROME: update r[${r.length}]·u[${u.length}]ᵀ does not fit rows ${r0}..${r1} of ${target.param} ${W.describe()}`);
  }
  const wide = W.dtype === 'float32' ? null : cast(W, 'float32');
  const data = Float32Array.from(await (wide ?? W).data());
  wide?.dispose();
  const original = data.slice(r0 * k, r1 * k);
  for (let i = 0; i < r1 - r0; i++) {
    const ri = r[i]!, row = (r0 + i) * k;
    for (let j = 0; j < k; j++) data[row + j] = data[row + j]! + ri * u[j]!;
  }
  const old = replaceParam16(model, target.param, tensor(data, W.shape, { backend: W.backend }));
  const keepOld = old.dtype !== 'float32';
  if (!keepOld) old.dispose();
  let reverted = false;
  return {
    update,
    get reverted() { return reverted; },
    async revert() {
      if (reverted) return;
      const cur = param(model, target.param);
      if (keepOld) {
        replaceParam16(model, target.param, old).dispose();
      } else {
        const now = Float32Array.from(await cur.data());
        now.set(original, r0 * k);
        replaceParam(model, target.param, tensor(now, cur.shape, { backend: cur.backend })).dispose();
      }
      reverted = true;
    },
  };
}

/** replaceParam, allowing the dtype to change between float32 and the 16-bit storage types. */
function replaceParam16(model: LanguageModel, name: string, value: Tensor): Tensor {
  const params = model.params as Map<string, Tensor>;
  const old = param(model, name);
  if (old.dtype === value.dtype) return replaceParam(model, name, value);
  params.set(name, value);
  return old;
}
