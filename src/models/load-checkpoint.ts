/**
 * Building a model from a parsed config and an open checkpoint, wherever they came from: a directory (load.ts, in
 * Node) or files in memory (load-files.ts, also in a browser). Nothing here touches the file system.
 */
import type { Tensor } from '../tensor/tensor.js';
import type { Backend } from '../tensor/backends/backend.js';
import { withBackend, getBackend } from '../tensor/backends/current.js';
import { cpuBackend } from '../tensor/backends/cpu/cpu-backend.js';
import { tensor } from '../tensor/creation.js';
import { cast } from '../tensor/ops/shape/cast.js';
import { FactlabError } from '../tensor/errors.js';
import { envVar } from '../tensor/node-builtins.js';
import { fmt, sameShape } from '../tensor/shape.js';
import type { ModelConfig } from '../io/config/config.js';
import type { Checkpoint } from '../io/checkpoint/types.js';
import { canonicalName, isIgnorableName, paramSpecs } from './params.js';
import type { LanguageModel } from './model.js';
import { buildModel } from './build.js';

export interface ModelLoadOptions {
  /** Where the parameters live (default: the current backend). */
  backend?: Backend;
  /**
   * The dtype in which to keep the blocks' projection weights (Mamba's in_proj, x_proj, dt_proj and out_proj;
   * GPT-NeoX's attention and MLP matrices): float32 (the default), or float16 or bfloat16 to halve their memory.
   * Products still compute in float32, from the 16-bit values widened exactly (rounded once, to nearest-even, when
   * the checkpoint holds them in float32). Everything else stays float32. The environment variable FACTLAB_MATRICES
   * gives the default, so every command can take it.
   */
  matrices?: 'float32' | 'float16' | 'bfloat16';
}

/**
 * `matrices` from the options, else from FACTLAB_MATRICES (which sets it for every command, as FACTLAB_BACKEND sets
 * the backend; there is none in a browser), else float32; one error naming whichever gave a bad value.
 */
function matricesOf(opts: ModelLoadOptions): NonNullable<ModelLoadOptions['matrices']> {
  const env = envVar('FACTLAB_MATRICES')?.trim() || undefined;
  const v: string = opts.matrices ?? env ?? 'float32';
  if (v === 'float32' || v === 'float16' || v === 'bfloat16') return v;
  throw new FactlabError(`${opts.matrices !== undefined ? 'loadModel: matrices' : 'FACTLAB_MATRICES'} must be float32, float16 or bfloat16, not '${v}'`);
}

function list(names: string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

/**
 * The model that `config` describes, its parameters read from `ckpt` (closed when done) onto the backend. `source`
 * (the directory or file) names the checkpoint in errors. The checkpoint is checked against the config before any
 * tensor is read: a missing or unexpected tensor name, or a wrong shape, is one error naming the tensors.
 */
export async function modelFromCheckpoint(config: ModelConfig, ckpt: Checkpoint, source: string, opts: ModelLoadOptions = {}): Promise<LanguageModel> {
  const params = new Map<string, Tensor>();
  try {
    const specs = paramSpecs(config);
    const stored = new Map(ckpt.names().map((n) => [canonicalName(n), n]));
    const expected = new Set(specs.map((s) => s.name));
    const missing = specs.filter((s) => !stored.has(s.name)).map((s) => s.name);
    const extra = [...stored.keys()].filter((n) => !expected.has(n) && !isIgnorableName(config, n));
    if (missing.length) throw new FactlabError(`${source}: the checkpoint lacks ${missing.length} tensor(s) that config.json implies: ${list(missing)}`);
    if (extra.length) throw new FactlabError(`${source}: the checkpoint has ${extra.length} tensor(s) that config.json does not describe: ${list(extra)}`);
    for (const s of specs) {
      const info = ckpt.info(stored.get(s.name)!);
      if (!sameShape(info.shape, s.shape)) throw new FactlabError(`${source}: tensor ${stored.get(s.name)} has shape ${fmt(info.shape)}, but config.json implies ${fmt(s.shape)}`);
    }
    const backend = opts.backend ?? getBackend();
    const matrices = matricesOf(opts);
    for (const s of specs) {
      // Checkpoints are read on the CPU; a tensor for another backend is uploaded and its CPU copy freed at once.
      const t = await withBackend(cpuBackend, () => ckpt.load(stored.get(s.name)!));
      let onto = t.backend === backend ? t : tensor(await t.data(), t.shape, { backend, dtype: t.dtype });
      if (onto !== t) t.dispose();
      // Narrowed where the parameter lives: on a GPU that is one kernel, where the host would loop for seconds.
      if (s.matrix && onto.dtype !== matrices) {
        const narrow = cast(onto, matrices);
        onto.dispose();
        onto = narrow;
      }
      params.set(s.name, onto);
    }
  } catch (e) {
    for (const t of params.values()) t.dispose();
    throw e;
  } finally {
    ckpt.close();
  }
  return buildModel(config, params);
}
