import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { sharedData } from '../../io/shared-data.js';
import { textLines } from '../../io/text-stream.js';
import {
  checkTrainBpeOptions, DEFAULT_MIN_FREQUENCY, DEFAULT_SPECIAL_TOKENS, trainByteLevelBpeFromCounts, wordCounterFor,
  writeTokenizerDir, writeTokenizerJson, type TrainBpeOptions, type WordCounter,
} from '../../io/tokenizer/index.js';
import { emit } from '../output.js';
import { floatArg, intArg } from '../options.js';

interface Opts {
  enwiki?: number; maxMb?: number; vocabSize: number; minFrequency: number; special: string; nfc?: boolean; out: string; json?: boolean;
}

const MB = 1e6;
// WikiExtractor's markup (the enwiki shards): each <doc id="..." ...> ... </doc> block is one text, the markup
// lines no part of it. Looked for in every file, since a shard may begin inside a block that the previous one began.
const DOC_MARKUP = /^(?:<doc id="[^"\n]*"[^>\n]*>|<\/doc>)(?:\n|$)/gm;

/** The trainer's option errors name its parameters; on the command line, name the flags. */
function trainOptions(o: Opts): TrainBpeOptions {
  const specialTokens = o.special === '' ? [] : o.special.split(',');
  const options = { vocabSize: o.vocabSize, minFrequency: o.minFrequency, specialTokens, nfc: !!o.nfc };
  try {
    checkTrainBpeOptions(options);
  } catch (e) {
    if (!(e instanceof FactlabError)) throw e;
    throw new FactlabError(e.message.replace(/^vocabSize/, '--vocab-size').replace(/^minFrequency/, '--min-frequency').replace(/^specialTokens/, '--special'));
  }
  return options;
}

async function enwikiShards(n: number): Promise<string[]> {
  if (sharedData === null) throw new FactlabError('--enwiki: the shared data folder was not found (set FACTLAB_SHARED_DATA)');
  const dir = join(sharedData, 'enwiki');
  const shards = (await readdir(dir).catch(() => [] as string[])).filter((f) => /^shard_\d+\.xz$/.test(f)).sort();
  if (n > shards.length) throw new FactlabError(`--enwiki ${n}: ${dir} has ${shards.length} shards`);
  return shards.slice(0, n).map((f) => join(dir, f));
}

/** Where the output goes, checked before hours of reading: a .json file, or a folder for tokenizer.json and
 *  tokenizer_config.json. */
async function outputTarget(out: string): Promise<{ file: string; dir: string | null }> {
  const existing = await stat(out).catch(() => null);
  const isFile = existing ? !existing.isDirectory() : out.endsWith('.json');
  if (existing && isFile && !out.endsWith('.json')) throw new FactlabError(`--out ${out}: a file that is not .json (give a folder, or a .json file)`);
  let ancestor = resolve(isFile ? dirname(out) : out);
  for (;;) {
    const s = await stat(ancestor).catch(() => null);
    if (s) {
      if (!s.isDirectory()) throw new FactlabError(`--out ${out}: ${ancestor} is not a folder`);
      break;
    }
    if (isFile) throw new FactlabError(`--out ${out}: the folder ${ancestor} does not exist`);
    ancestor = dirname(ancestor);
  }
  await access(ancestor, constants.W_OK).catch(() => { throw new FactlabError(`--out ${out}: cannot write in ${ancestor}`); });
  return isFile ? { file: out, dir: null } : { file: join(out, 'tokenizer.json'), dir: out };
}

/** What reading has got to, across files. */
interface ReadState {
  bytes: number;
  /** Inside a <doc> block: a shard that ends here continues in the next one, and the text goes on. */
  inDoc: boolean;
}

/** Feeds one file to the counter, WikiExtractor blocks as separate texts; false once `limit` bytes were read. */
async function countFile(file: string, counter: WordCounter, read: ReadState, limit: number, tick: () => void): Promise<boolean> {
  for await (const piece of textLines(file)) {
    // Pieces end at line breaks, so a markup line is never split between two.
    let last = 0;
    for (const m of piece.matchAll(DOC_MARKUP)) {
      if (m.index > last) counter.feed(piece.slice(last, m.index));
      counter.end();
      read.inDoc = m[0].startsWith('<doc');
      last = m.index + m[0].length;
    }
    if (last < piece.length) counter.feed(piece.slice(last));
    read.bytes += Buffer.byteLength(piece);
    tick();
    if (read.bytes >= limit) {
      counter.end();
      return false;
    }
  }
  if (!read.inDoc) counter.end();
  return true;
}

export function registerTrainTokenizer(program: Command): void {
  program.command('train-tokenizer')
    .description('train a byte-level BPE tokenizer (GPT-2/GPT-NeoX style) on text files, .xz shards or the shared enwiki; writes tokenizer.json')
    .argument('[inputs...]', 'UTF-8 text files or .xz files (WikiExtractor <doc> blocks are read as separate texts)')
    .option('--enwiki <n>', 'also read the first n shards of the shared enwiki (after the inputs)', intArg('--enwiki', 1))
    .option('--max-mb <mb>', 'stop reading after this many MB (10^6 bytes) of text', floatArg('--max-mb'))
    .option('--vocab-size <n>', 'vocabulary entries: special tokens + 256 bytes + merges', intArg('--vocab-size', 1), 16384)
    .option('--min-frequency <n>', 'merge only pairs seen at least this often', intArg('--min-frequency', 1), DEFAULT_MIN_FREQUENCY)
    .option('--special <tokens>', 'comma-separated special tokens, ids 0, 1, ... (the first is end of text)', DEFAULT_SPECIAL_TOKENS.join(','))
    .option('--nfc', 'give the tokenizer an NFC normalizer (as GPT-NeoX-20B has); by default none, so decode inverts encode exactly')
    .requiredOption('-o, --out <path>', 'a folder (gets tokenizer.json and tokenizer_config.json) or a .json file')
    .option('--json', 'machine-readable output')
    .action(async (inputs: string[], o: Opts) => {
      const options = trainOptions(o);
      const files = [...inputs, ...(o.enwiki ? await enwikiShards(o.enwiki) : [])];
      if (files.length === 0) throw new FactlabError('train-tokenizer: no input (give text files, .xz files, or --enwiki <n>)');
      for (const f of inputs) {
        const s = await stat(f).catch(() => null);
        if (!s?.isFile()) throw new FactlabError(`${f}: no such file`);
      }
      const target = await outputTarget(o.out);

      const bars = new cliProgress.MultiBar({ stream: process.stderr, hideCursor: true, clearOnComplete: true, format: '{label} [{bar}] {value}/{total} {unit} | {info}' }, cliProgress.Presets.shades_classic);
      const t0 = performance.now();
      const counter = wordCounterFor(options);
      const limit = o.maxMb === undefined ? Infinity : o.maxMb * MB;
      // Only a guess for xz (enwiki shards decompress to about 3.7 times their size); the bar is for people.
      let estimate = 0;
      for (const f of files) estimate += (await stat(f)).size * (f.endsWith('.xz') ? 3.7 : 1);
      const readBar = bars.create(Math.max(1, Math.round(Math.min(limit, estimate) / MB)), 0, { label: 'reading', unit: 'MB', info: '' });
      const read: ReadState = { bytes: 0, inDoc: false };
      const tick = () => readBar.update(Math.round(read.bytes / MB), { info: `${counter.counts.size.toLocaleString('en-US')} distinct words` });
      for (const f of files) if (!(await countFile(f, counter, read, limit, tick))) break;
      counter.end();
      readBar.setTotal(Math.max(1, Math.round(read.bytes / MB)));
      tick();
      if (counter.words === 0) {
        bars.stop();
        throw new FactlabError(`train-tokenizer: ${files.join(', ')}: no text to train on`);
      }
      const t1 = performance.now();

      const mergeBar = bars.create(options.vocabSize, 0, { label: 'merging', unit: 'tokens', info: '' });
      const json = trainByteLevelBpeFromCounts(counter, { ...options, onProgress: (p) => { if (p.phase === 'merge') mergeBar.update(p.vocab, { info: `${p.merges} merges` }); } });
      bars.stop();
      const t2 = performance.now();
      if (target.dir !== null) await writeTokenizerDir(target.dir, json);
      else await writeTokenizerJson(target.file, json);

      const vocabSize = Object.keys(json.model.vocab).length;
      if (vocabSize < options.vocabSize) {
        process.stderr.write(`factlab: warning: the vocabulary has ${vocabSize} entries, not ${options.vocabSize}: no pair of tokens occurs ${options.minFrequency} times or more any more (give more text, or a lower --min-frequency)\n`);
      }
      const summary = {
        out: target.file, vocabSize, merges: json.model.merges.length, files: files.length, megabytes: read.bytes / MB,
        texts: counter.texts, words: counter.words, distinctWords: counter.counts.size,
        seconds: { reading: (t1 - t0) / 1000, merging: (t2 - t1) / 1000 },
      };
      emit(!!o.json, summary, () => `${target.file}: ${vocabSize} tokens (${summary.merges} merges) from ${summary.megabytes.toFixed(1)} MB of text ` +
        `(${summary.texts.toLocaleString('en-US')} texts, ${summary.distinctWords.toLocaleString('en-US')} distinct words); ` +
        `reading ${summary.seconds.reading.toFixed(1)} s, merging ${summary.seconds.merging.toFixed(1)} s`);
    });
}
