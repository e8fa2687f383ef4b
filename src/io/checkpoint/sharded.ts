/**
 * Sharded checkpoints: model.safetensors.index.json (or pytorch_model.bin.index.json) maps each tensor name to
 * the shard file that holds it, `{"metadata": {...}, "weight_map": {name: shard}}`.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { listSome } from './dtypes.js';
import { duplicateKey } from './json.js';
import type { Checkpoint, LoadOptions, TensorInfo } from './types.js';

export interface ShardIndex {
  /** Tensor name → shard file name, relative to the index's directory, in the index's order. */
  weightMap: Map<string, string>;
  metadata: Record<string, unknown>;
}

/** Reads and checks an index: valid JSON, a weight_map of unique names to shard files inside the directory. */
export function readShardIndex(indexPath: string): ShardIndex {
  let text: string;
  try {
    text = readFileSync(indexPath, 'utf8');
  } catch (e) {
    throw new FactlabError(`${indexPath}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FactlabError(`${indexPath}: not valid JSON (${(e as Error).message})`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new FactlabError(`${indexPath}: has no "weight_map" object mapping tensor names to shard files`);
  const dup = duplicateKey(text);
  if (dup && dup.parent === 'weight_map') throw new FactlabError(`${indexPath}: tensor "${dup.key}" is listed twice in weight_map`);
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '') throw new FactlabError(`${indexPath}: weight_map gives tensor "${name}" the shard ${JSON.stringify(shard)}, not a file name`);
    // An index names files beside it; a path that climbs out of the model directory is refused.
    if (isAbsolute(shard) || normalize(shard).split(sep).includes('..')) throw new FactlabError(`${indexPath}: weight_map puts tensor "${name}" in ${JSON.stringify(shard)}, outside the model directory`);
    weightMap.set(name, shard);
  }
  const metadata = (json as { metadata?: unknown }).metadata;
  return { weightMap, metadata: typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {} };
}

/** A checkpoint spread over shard files, each opened (headers only) when the index is opened. */
export class ShardedCheckpoint implements Checkpoint {
  private constructor(
    readonly path: string,
    readonly format: 'safetensors-sharded' | 'pytorch-sharded',
    private readonly shardOf: Map<string, Checkpoint>,
    private readonly shards: Checkpoint[],
    readonly metadata: Record<string, unknown>,
  ) {}

  /**
   * Checks the index against the shards before anything is loaded: every shard exists, every listed tensor is
   * in the shard the index names, and no tensor is stored in two shards.
   */
  static open(indexPath: string, format: 'safetensors-sharded' | 'pytorch-sharded', openShard: (path: string) => Checkpoint): ShardedCheckpoint {
    const { weightMap, metadata } = readShardIndex(indexPath);
    const dir = dirname(indexPath);
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of weightMap) {
      const list = byShard.get(shard);
      if (list) list.push(name);
      else byShard.set(shard, [name]);
    }
    const missing = [...byShard.keys()].filter((s) => !existsSync(join(dir, s)) || !statSync(join(dir, s)).isFile());
    if (missing.length) {
      const detail = missing.map((s) => `${s} (holding ${listSome(byShard.get(s)!, 2)})`).join('; ');
      throw new FactlabError(`${indexPath}: ${missing.length} shard file(s) named in weight_map are missing from ${dir}: ${detail}`);
    }
    const opened = new Map<string, Checkpoint>();
    try {
      for (const shard of byShard.keys()) opened.set(shard, openShard(join(dir, shard)));
      const storedIn = new Map<string, string>();
      for (const [shard, ckpt] of opened) {
        for (const name of ckpt.names()) {
          const other = storedIn.get(name);
          if (other !== undefined) throw new FactlabError(`${indexPath}: tensor "${name}" is stored in two shards, ${other} and ${shard}`);
          storedIn.set(name, shard);
        }
      }
      const shardOf = new Map<string, Checkpoint>();
      for (const [name, shard] of weightMap) {
        if (!opened.get(shard)!.has(name)) {
          const actual = storedIn.get(name);
          throw new FactlabError(`${indexPath}: weight_map puts tensor "${name}" in ${shard}, but ${actual ? `it is in ${actual}` : 'that shard has no such tensor'}`);
        }
        shardOf.set(name, opened.get(shard)!);
      }
      return new ShardedCheckpoint(indexPath, format, shardOf, [...opened.values()], metadata);
    } catch (e) {
      for (const c of opened.values()) c.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.shardOf.keys()];
  }

  has(name: string): boolean {
    return this.shardOf.has(name);
  }

  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }

  load(name: string, opts?: LoadOptions): Promise<Tensor> {
    try {
      return this.shard(name).load(name, opts);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  close(): void {
    for (const s of this.shards) s.close();
  }

  private shard(name: string): Checkpoint {
    const s = this.shardOf.get(name);
    if (!s) throw new FactlabError(`${this.path}: no tensor named "${name}" in this checkpoint (it has ${this.shardOf.size} tensors)`);
    return s;
  }
}
