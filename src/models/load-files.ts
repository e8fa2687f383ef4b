/**
 * Loading a model from its files' bytes rather than a directory: what a browser page has once the user picks a
 * model folder (File.arrayBuffer()). Only this module's imports reach the loader, so it bundles for a browser
 * (src/web), where the node: modules behind loadModel do not exist.
 */
import { parseConfigText } from '../io/config/config.js';
import { SafetensorsFile } from '../io/checkpoint/safetensors.js';
import { tokenizerFromJson, type FactTokenizer } from '../io/tokenizer/tokenizer.js';
import { FactlabError } from '../tensor/errors.js';
import type { LanguageModel } from './model.js';
import { modelFromCheckpoint, type ModelLoadOptions } from './load-checkpoint.js';

/** A model folder's files by name (config.json, model.safetensors, tokenizer.json, tokenizer_config.json). */
export type ModelFiles = ReadonlyMap<string, Uint8Array>;

const text = (files: ModelFiles, name: string, source: string): string | undefined => {
  const bytes = files.get(name);
  if (bytes === undefined) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FactlabError(`${source}/${name}: not valid UTF-8`);
  }
};

function parseJson(body: string, file: string): unknown {
  try {
    return JSON.parse(body);
  } catch (e) {
    throw new FactlabError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * The model and tokenizer of a Hugging Face model folder given as bytes: config.json, a single model.safetensors
 * (sharded and PyTorch checkpoints are read from a directory, `loadPretrained`), and tokenizer.json with
 * tokenizer_config.json when present. `source` names the folder in errors.
 */
export async function loadPretrainedFromFiles(files: ModelFiles, source = 'model', opts: ModelLoadOptions = {}): Promise<{ model: LanguageModel; tokenizer: FactTokenizer }> {
  const need = (name: string) => {
    const body = text(files, name, source);
    if (body === undefined) throw new FactlabError(`${source}: has no ${name} (a model folder needs config.json, model.safetensors and tokenizer.json; it has ${[...files.keys()].join(', ') || 'no files'})`);
    return body;
  };
  const config = parseConfigText(need('config.json'), `${source}/config.json`);
  const tokenizerConfig = text(files, 'tokenizer_config.json', source);
  const tokenizer = tokenizerFromJson(parseJson(need('tokenizer.json'), `${source}/tokenizer.json`),
    tokenizerConfig === undefined ? {} : parseJson(tokenizerConfig, `${source}/tokenizer_config.json`), { source: `${source}/tokenizer.json` });
  const weights = files.get('model.safetensors');
  if (weights === undefined) {
    const other = [...files.keys()].find((f) => /\.(safetensors|bin|pt|pth)$|\.index\.json$/.test(f));
    throw new FactlabError(`${source}: has no model.safetensors${other ? ` (it has ${other}: sharded and PyTorch checkpoints load from a directory, with loadPretrained)` : ''}`);
  }
  const model = await modelFromCheckpoint(config, SafetensorsFile.fromBytes(`${source}/model.safetensors`, weights), source, opts);
  return { model, tokenizer };
}
