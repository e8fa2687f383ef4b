import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { PytorchBinFile } from './pytorch-bin.js';
import { SafetensorsFile } from './safetensors.js';
import { ShardedCheckpoint } from './sharded.js';
import type { Checkpoint } from './types.js';

/** The files a Hugging Face model directory may keep its weights in, in the order transformers prefers them. */
export const CHECKPOINT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'] as const;

export interface OpenOptions {
  /** A file inside the directory to open instead of the standard names (e.g. "reference.safetensors"). */
  file?: string;
}

/** Opens one checkpoint file, choosing the reader by its name. */
export function openCheckpointFile(path: string): Checkpoint {
  const name = basename(path);
  if (name.endsWith('.safetensors.index.json')) return ShardedCheckpoint.open(path, 'safetensors-sharded', (p) => SafetensorsFile.open(p));
  if (name.endsWith('.bin.index.json')) return ShardedCheckpoint.open(path, 'pytorch-sharded', (p) => PytorchBinFile.open(p));
  if (name.endsWith('.safetensors')) return SafetensorsFile.open(path);
  if (name.endsWith('.bin') || name.endsWith('.pt') || name.endsWith('.pth')) return PytorchBinFile.open(path);
  throw new FactlabError(`${path}: not a checkpoint file factlab knows (expected .safetensors, .bin, .pt, .pth or a *.index.json of shards)`);
}

/**
 * Opens the weights of a Hugging Face model directory: model.safetensors, sharded safetensors
 * (model.safetensors.index.json), pytorch_model.bin, or sharded .bin files (pytorch_model.bin.index.json),
 * whichever comes first in that order. `dir` may also be a checkpoint file itself. Only headers are read here;
 * `load` reads one tensor's bytes.
 */
export async function openCheckpoint(dir: string, opts: OpenOptions = {}): Promise<Checkpoint> {
  if (!existsSync(dir)) throw new FactlabError(`${dir}: no such model directory`);
  if (statSync(dir).isFile()) {
    if (opts.file) throw new FactlabError(`${dir}: is a file, so { file: ${JSON.stringify(opts.file)} } cannot name a file inside it`);
    return openCheckpointFile(dir);
  }
  if (opts.file) {
    const path = join(dir, opts.file);
    if (!existsSync(path)) throw new FactlabError(`${dir}: has no ${opts.file}`);
    return openCheckpointFile(path);
  }
  for (const f of CHECKPOINT_FILES) {
    const path = join(dir, f);
    if (existsSync(path) && statSync(path).isFile()) return openCheckpointFile(path);
  }
  const others = readdirSync(dir).filter((f) => /\.(safetensors|bin|pt|pth)$/.test(f));
  const hint = others.length ? `; it has ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}, which can be opened with { file }` : '';
  throw new FactlabError(`${dir}: no checkpoint found (looked for ${CHECKPOINT_FILES.join(', ')})${hint}`);
}
