import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type * as FsPromises from 'node:fs/promises';
import type * as Path from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { requireNodeBuiltin } from '../../tensor/node-builtins.js';
import { alignToText, byteLevelSurface, byteLevelTokenBytes, decodedSurface, type Offset, type Surface } from './offsets.js';

export type { Offset } from './offsets.js';

export interface EncodeOptions {
  /** Let the tokenizer's post-processor add its special tokens (BOS and the like). Default true, as in
   *  Hugging Face; GPT-NeoX-20B's adds none. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (for GPT-NeoX-20B: `<|endoftext|>` and `<|padding|>`). Default false. */
  skipSpecialTokens?: boolean;
}

export interface Encoded {
  ids: number[];
  /** offsets[k] is token k's character range in the text; see offsets.ts for the convention. */
  offsets: Offset[];
}

export interface FactTokenizer {
  encode(text: string, options?: EncodeOptions): Encoded;
  /** The exact inverse of `encode` for text that normalization leaves unchanged: no clean-up of spaces. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** One more than the largest id (50277 for GPT-NeoX-20B); model embeddings are often padded beyond it. */
  readonly vocabSize: number;
  /** End of text (0 for GPT-NeoX-20B), or null where the tokenizer has none. */
  readonly eosId: number | null;
  /** What batches are padded with: the config's pad_token if it names one, otherwise the EOS id, as romba pads. */
  readonly padId: number | null;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** Where the tokenizer came from, for error messages. */
  readonly source: string;
}

export interface TokenizerJsonOptions {
  /** Named in error messages. */
  source?: string;
  /** 'decode' forces the offsets that work for any tokenizer; tests use it to cross-check the byte-level path. */
  offsets?: 'auto' | 'decode';
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

// The names end-of-text goes by, for tokenizer.json files that come without a tokenizer_config.json.
const EOS_NAMES = ['<|endoftext|>', '</s>', '<eos>', '<|eos|>', '<|end_of_text|>'];

/** A config's special token entry is a string or an AddedToken-like object `{content: ...}`. */
function configTokenName(config: Json, key: string): string | undefined {
  const v = config[key];
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

function decoderIsByteLevel(decoder: unknown): boolean {
  if (!isObject(decoder)) return false;
  if (decoder.type === 'ByteLevel') return true;
  return decoder.type === 'Sequence' && Array.isArray(decoder.decoders) && decoder.decoders.some(decoderIsByteLevel);
}

const utf8 = new TextEncoder();

class HfFactTokenizer implements FactTokenizer {
  readonly vocabSize: number;
  readonly eosId: number | null;
  readonly padId: number | null;
  private readonly addedContent = new Map<number, string>();
  private readonly byteLevel: boolean;

  constructor(
    private readonly hf: HfTokenizer,
    json: Json,
    config: Json,
    readonly source: string,
    private readonly forceDecode: boolean,
  ) {
    let maxId = -1;
    for (const id of hf.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    for (const [id, token] of hf.get_added_tokens_decoder()) this.addedContent.set(id, token.content);
    this.byteLevel = decoderIsByteLevel(json.decoder);

    const specialId = (name: string | undefined, key: string): number | null => {
      if (name === undefined) return null;
      const id = hf.token_to_id(name);
      if (id === undefined) throw new FactlabError(`${source}: ${key} ${JSON.stringify(name)} is not in the vocabulary`);
      return id;
    };
    let eos = specialId(configTokenName(config, 'eos_token'), 'eos_token');
    if (eos === null) {
      const specials = new Set([...hf.get_added_tokens_decoder().values()].filter((t) => t.special).map((t) => t.content));
      const name = EOS_NAMES.find((n) => specials.has(n));
      eos = name === undefined ? null : hf.token_to_id(name) ?? null;
    }
    this.eosId = eos;
    this.padId = specialId(configTokenName(config, 'pad_token'), 'pad_token') ?? eos;
  }

  encode(text: string, options: EncodeOptions = {}): Encoded {
    if (typeof text !== 'string') throw new FactlabError(`${this.source}: encode expects a string, got ${typeof text}`);
    const enc = this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true });
    const ids: number[] = enc.ids;
    const missing = ids.findIndex((id: number | undefined) => typeof id !== 'number');
    if (missing >= 0) {
      throw new FactlabError(
        `${this.source}: cannot encode ${JSON.stringify(text)}: token ${JSON.stringify(enc.tokens[missing])} is not in the vocabulary and there is no unknown token`,
      );
    }
    return { ids, offsets: this.offsets(text, ids, enc.tokens) };
  }

  private offsets(text: string, ids: readonly number[], tokens: readonly string[]): Offset[] {
    let surface: Surface | null = null;
    if (this.byteLevel && !this.forceDecode) surface = this.byteLevelSurface(ids, tokens);
    surface ??= decodedSurface(ids.length, (k) => this.decodeUnchecked(ids.slice(0, k), false));
    return alignToText(text, surface);
  }

  private byteLevelSurface(ids: readonly number[], tokens: readonly string[]): Surface | null {
    const bytes: Uint8Array[] = [];
    for (let k = 0; k < ids.length; k++) {
      // Added tokens are stored as their literal text, not in the byte alphabet.
      const added = this.addedContent.get(ids[k]!);
      const b = added !== undefined ? utf8.encode(added) : byteLevelTokenBytes(tokens[k]!);
      if (b === null) return null;
      bytes.push(b);
    }
    return byteLevelSurface(bytes);
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || this.hf.id_to_token(id) === undefined) {
        throw new FactlabError(`${this.source}: cannot decode id ${id}: not in the vocabulary (size ${this.vocabSize})`);
      }
    }
    return this.decodeUnchecked(ids, options.skipSpecialTokens ?? false);
  }

  private decodeUnchecked(ids: readonly number[], skipSpecialTokens: boolean): string {
    // The library refuses an empty list.
    if (ids.length === 0) return '';
    return this.hf.decode([...ids], { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }
}

/**
 * A tokenizer from an already parsed tokenizer.json (and optionally tokenizer_config.json). Needs no file system,
 * so the web front end can use it on fetched files.
 */
export function tokenizerFromJson(json: unknown, config: unknown = {}, options: TokenizerJsonOptions = {}): FactTokenizer {
  const source = options.source ?? 'tokenizer.json';
  if (!isObject(json)) throw new FactlabError(`${source}: not a tokenizer.json (the top level is not an object)`);
  if (!isObject(json.model)) throw new FactlabError(`${source}: not a tokenizer.json (no "model" object)`);
  if (!isObject(config)) throw new FactlabError(`${source}: the tokenizer config is not an object`);
  // The library insists on these keys being present; older files leave out the ones they do not use.
  const complete: Json = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...json };
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(complete, config);
  } catch (e) {
    throw new FactlabError(`${source}: cannot build a tokenizer from it: ${(e as Error).message}`);
  }
  return new HfFactTokenizer(hf, complete, config, source, options.offsets === 'decode');
}

async function readJson(path: string): Promise<unknown> {
  const { readFile } = requireNodeBuiltin<typeof FsPromises>('node:fs/promises', 'reading a tokenizer file');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FactlabError(`${path}: cannot read the tokenizer file (${code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FactlabError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Loads a tokenizer from a model directory (its tokenizer.json, plus tokenizer_config.json if present) or from
 * the path of a tokenizer.json file (plus a tokenizer_config.json beside it, if present).
 */
export async function loadTokenizer(dirOrFile: string): Promise<FactTokenizer> {
  // Reached at run time rather than imported, so that this module also loads in a browser, for tokenizerFromJson.
  const { stat } = requireNodeBuiltin<typeof FsPromises>('node:fs/promises', 'reading a tokenizer file');
  const { dirname, join } = requireNodeBuiltin<typeof Path>('node:path', 'reading a tokenizer file');
  let isDir: boolean;
  try {
    isDir = (await stat(dirOrFile)).isDirectory();
  } catch {
    throw new FactlabError(`${dirOrFile}: no such tokenizer file or model directory`);
  }
  const file = isDir ? join(dirOrFile, 'tokenizer.json') : dirOrFile;
  if (isDir) {
    try {
      await stat(file);
    } catch {
      throw new FactlabError(`${dirOrFile}: the model directory has no tokenizer.json`);
    }
  }
  const json = await readJson(file);
  const configPath = join(isDir ? dirOrFile : dirname(dirOrFile), 'tokenizer_config.json');
  let config: unknown = {};
  try {
    await stat(configPath);
    config = await readJson(configPath);
  } catch (e) {
    if (e instanceof FactlabError) throw e;
  }
  return tokenizerFromJson(json, config, { source: file });
}
