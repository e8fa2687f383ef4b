import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveSafetensors } from '../io/checkpoint/index.js';
import { configToJson } from '../io/config/config.js';
import type { LanguageModel } from './model.js';

export interface SaveOptions {
  /** A model directory whose tokenizer files (tokenizer.json, tokenizer_config.json, special_tokens_map.json) are copied. */
  tokenizerFrom?: string;
  /** Recorded in the safetensors header's metadata. */
  metadata?: Record<string, string>;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/**
 * Writes a model as a Hugging Face directory that transformers loads: config.json (transformers' spelling) and
 * model.safetensors by transformers' tensor names. Each file is written to a temporary name and renamed, so an
 * interrupted save never leaves a half-written file under the real name.
 */
export async function saveModel(model: LanguageModel, dir: string, opts: SaveOptions = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const c = model.config;
  const config = configToJson(c.arch === 'mamba' ? { ...c, spelling: 'transformers' } : c);
  await saveSafetensors(join(dir, 'model.safetensors'), Object.fromEntries(model.params), { format: 'pt', ...opts.metadata });
  writeAtomic(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  if (opts.tokenizerFrom) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      const src = join(opts.tokenizerFrom, f);
      if (existsSync(src)) copyFileSync(src, join(dir, f));
    }
  }
}
