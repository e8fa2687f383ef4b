import { FactlabError } from '../../tensor/errors.js';

/** The parts of Hugging Face's tokenizer.json that a byte-level BPE tokenizer uses, in GPT-NeoX-20B's layout. */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface ByteLevelJson {
  type: 'ByteLevel';
  add_prefix_space: boolean;
  trim_offsets: boolean;
  use_regex: boolean;
}

export interface BpeModelJson {
  type: 'BPE';
  dropout: null;
  unk_token: null;
  continuing_subword_prefix: null;
  end_of_word_suffix: null;
  fuse_unk: boolean;
  byte_fallback: boolean;
  ignore_merges: boolean;
  vocab: Record<string, number>;
  /** "left right": the format every version of the Rust and JavaScript libraries reads (byte-level tokens never
   *  contain a space, so the split is unambiguous). */
  merges: string[];
}

export interface TokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: { type: 'NFC' } | null;
  pre_tokenizer: ByteLevelJson;
  post_processor: ByteLevelJson;
  decoder: ByteLevelJson;
  model: BpeModelJson;
}

/**
 * The tokenizer.json of a byte-level BPE: `vocab[id]` is each token's byte-level spelling, and the first
 * `specialTokens.length` ids are the special tokens, which are also declared as added tokens so that they are cut
 * out of any text (never normalized) and encode to their one id.
 */
export function byteLevelBpeJson(vocab: readonly string[], merges: readonly (readonly [string, string])[], specialTokens: readonly string[], nfc: boolean): TokenizerJson {
  const byteLevel = (trimOffsets: boolean): ByteLevelJson => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: trimOffsets, use_regex: true });
  const vocabObject: Record<string, number> = {};
  vocab.forEach((token, id) => { vocabObject[token] = id; });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: nfc ? { type: 'NFC' } : null,
    pre_tokenizer: byteLevel(true),
    // trim_offsets only moves the library's own offsets (factlab computes its own); false keeps ids untouched.
    post_processor: byteLevel(false),
    decoder: byteLevel(true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObject,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

const VOCAB_PLACEHOLDER = '\u0000vocab\u0000';

/**
 * The file's text: indented like Hugging Face's files, with the vocabulary listed in id order. (A JavaScript
 * object lists integer-like keys such as "7" or "1999" first, so plain JSON.stringify would scramble it.)
 */
export function serializeTokenizerJson(json: TokenizerJson): string {
  const text = JSON.stringify({ ...json, model: { ...json.model, vocab: VOCAB_PLACEHOLDER } }, null, 2);
  const entries = Object.entries(json.model.vocab).sort((a, b) => a[1] - b[1]);
  const vocab = entries.length === 0 ? '{}' : `{\n${entries.map(([t, id]) => `      ${JSON.stringify(t)}: ${id}`).join(',\n')}\n    }`;
  const placeholder = JSON.stringify(VOCAB_PLACEHOLDER);
  const at = text.indexOf(placeholder);
  return `${text.slice(0, at)}${vocab}${text.slice(at + placeholder.length)}\n`;
}

/**
 * What transformers' AutoTokenizer and factlab's loadTokenizer read beside tokenizer.json: the first special
 * token is end of text (and beginning, as in GPT-NeoX), and decoding must not clean up spaces, so that it inverts
 * encoding exactly.
 */
export function tokenizerConfigFor(json: TokenizerJson): Record<string, unknown> {
  const eos = json.added_tokens[0]?.content;
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    ...(eos === undefined ? {} : { bos_token: eos, eos_token: eos }),
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
  };
}

/**
 * Writes a file so that no reader ever sees it half written: into a temporary file beside it, then renamed over
 * it (a rename within a folder is atomic). Node only.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const { writeFile, rename, rm } = await import('node:fs/promises');
  const tmp = `${path}.${process.pid}-${Date.now()}.tmp`;
  try {
    await writeFile(tmp, text, 'utf8');
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new FactlabError(`${path}: cannot write it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Writes tokenizer.json to `path`, atomically. */
export async function writeTokenizerJson(path: string, json: TokenizerJson): Promise<void> {
  await writeFileAtomic(path, serializeTokenizerJson(json));
}

/** Writes tokenizer.json and tokenizer_config.json into `dir` (created if missing), each atomically. */
export async function writeTokenizerDir(dir: string, json: TokenizerJson): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new FactlabError(`${dir}: cannot create the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  await writeFileAtomic(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfigFor(json), null, 2)}\n`);
  await writeTokenizerJson(join(dir, 'tokenizer.json'), json);
}
