import { existsSync } from 'node:fs';
import type { Tensor } from '../../tensor/tensor.js';
import type { Backend } from '../../tensor/backends/backend.js';
import { cpuBackend } from '../../tensor/backends/cpu/cpu-backend.js';
import { getBackend, withBackend } from '../../tensor/backends/current.js';
import { tensor } from '../../tensor/creation.js';
import { FactlabError } from '../../tensor/errors.js';
import type { RngState } from '../../tensor/random.js';
import { SafetensorsFile, saveSafetensors } from '../../io/checkpoint/safetensors.js';
import type { LanguageModel } from '../../models/model.js';
import type { TrainState } from './train.js';

/** What a training checkpoint says about itself, besides its tensors (kept in the safetensors header). */
export interface CheckpointMeta {
  step: number;
  rng: RngState;
  adamT: number;
  /** The run's recipe (model config, data, options); resuming under another recipe is refused. */
  recipe: Record<string, unknown>;
}

const META_KEY = 'factlab_train_state';

/**
 * Writes parameters, AdamW moments, step and data-order state as one safetensors file, so that a checkpoint is
 * replaced in one rename: an interrupted write leaves the previous checkpoint whole (saveSafetensors writes a
 * temporary file, flushes it and renames it over the old one).
 */
export async function saveTrainCheckpoint(path: string, model: LanguageModel, state: TrainState, recipe: Record<string, unknown>): Promise<void> {
  const tensors: Record<string, Tensor> = {};
  for (const [name, p] of model.params) {
    tensors[`param/${name}`] = p;
    tensors[`adam_m/${name}`] = state.m.get(name)!;
    tensors[`adam_v/${name}`] = state.v.get(name)!;
  }
  const meta: CheckpointMeta = { step: state.step, rng: state.rng, adamT: state.adamT, recipe };
  await saveSafetensors(path, tensors, { [META_KEY]: JSON.stringify(meta) });
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  params: Map<string, Tensor>;
  m: Tensor[];
  v: Tensor[];
}

/**
 * Reads a checkpoint written by saveTrainCheckpoint; the moments come back in the order of `names` (the model's
 * parameter order) and every tensor lives on `backend`. A file that is not such a checkpoint is one error naming it.
 */
export async function loadTrainCheckpoint(path: string, names: readonly string[], backend: Backend = getBackend()): Promise<LoadedCheckpoint> {
  if (!existsSync(path)) throw new FactlabError(`${path}: no training checkpoint here to resume from`);
  const file = SafetensorsFile.open(path);
  const made: Tensor[] = [];
  try {
    const raw = file.metadata[META_KEY];
    if (!raw) throw new FactlabError(`${path}: not a factlab training checkpoint (its header has no ${META_KEY})`);
    let meta: CheckpointMeta;
    try { meta = JSON.parse(raw) as CheckpointMeta; } catch { throw new FactlabError(`${path}: the training state in its header is not JSON`); }
    if (!Number.isInteger(meta.step) || !Number.isInteger(meta.adamT) || typeof meta.recipe !== 'object') throw new FactlabError(`${path}: the training state in its header lacks step, adamT or recipe`);
    const read = async (name: string): Promise<Tensor> => {
      if (!file.has(name)) throw new FactlabError(`${path}: the checkpoint has no tensor ${name}; it was written for another model`);
      const t = await withBackend(cpuBackend, () => file.load(name));
      if (backend === cpuBackend) { made.push(t); return t; }
      const up = tensor(await t.data(), t.shape, { backend, dtype: t.dtype });
      t.dispose();
      made.push(up);
      return up;
    };
    const params = new Map<string, Tensor>();
    for (const n of names) params.set(n, await read(`param/${n}`));
    const m: Tensor[] = [], v: Tensor[] = [];
    for (const n of names) m.push(await read(`adam_m/${n}`));
    for (const n of names) v.push(await read(`adam_v/${n}`));
    const extra = file.names().filter((n) => !names.includes(n.replace(/^(param|adam_m|adam_v)\//, '')));
    if (extra.length) throw new FactlabError(`${path}: the checkpoint has tensors the model lacks (${extra.slice(0, 3).join(', ')}); it was written for another model`);
    return { meta, params, m, v };
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  } finally {
    file.close();
  }
}
