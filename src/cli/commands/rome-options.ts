import type { Command } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../../io/shared-data.js';
import { corpusFromSpec } from '../../methods/data/corpus.js';
import type { RomeEditorOptions } from '../../methods/rome/editor.js';
import type { RomeHparams } from '../../methods/rome/hparams.js';
import { directoryFingerprint } from '../../methods/rome/fingerprint.js';
import { progressBar } from '../../methods/rome/progress.js';
import { floatArg, intArg } from '../options.js';

/** Options shared by `edit` and `rome-sweep`: the key statistics and where caches live. */
export interface StatsCliOptions { corpus: string; samples?: number; maxTokens?: number; maxLength: number; ridge: number; stats: boolean; cache?: string; contextSeed: number }

export function addStatsOptions(c: Command): Command {
  return c
    .option('--corpus <spec>', 'text for the key statistics C: wikitext103, enwiki, enwiki:0,1 (shards), or a path', 'wikitext103')
    .option('--samples <n>', 'documents for C at most (ROME: 100000)', intArg('--samples', 1))
    .option('--max-tokens <n>', 'tokens for C at most', intArg('--max-tokens', 1))
    .option('--max-length <n>', 'tokens kept per document', intArg('--max-length', 1), 2048)
    .option('--ridge <x>', 'relative ridge added to C before the solve (times mean diag C)', floatArg('--ridge', false), 0)
    .option('--no-stats', 'no covariance adjustment: u = k*/‖k*‖')
    .option('--context-seed <n>', 'seed of the sampled context templates', intArg('--context-seed'), 0)
    .option('--cache <dir>', 'cache of statistics and context templates (default $FACTLAB_CACHE or ~/.cache/factlab)');
}

export function hparamOverrides(o: StatsCliOptions): Partial<RomeHparams> {
  return {
    mom2Adjustment: o.stats, mom2MaxLength: o.maxLength, mom2Ridge: o.ridge, contextSeed: o.contextSeed,
    ...(o.samples ? { mom2NSamples: o.samples } : {}), ...(o.maxTokens ? { mom2MaxTokens: o.maxTokens } : {}),
  };
}

/** Editor options for a model directory: caches keyed by the directory's path, file sizes and mtimes. */
export function editorOptions(modelDir: string, o: StatsCliOptions, hparams: Partial<RomeHparams>): RomeEditorOptions & { stop(): void } {
  const bar = progressBar('key statistics (documents)');
  return {
    hparams,
    corpus: o.stats ? corpusFromSpec(o.corpus, sharedData) : undefined,
    cacheDir: o.cache ?? process.env.FACTLAB_CACHE ?? join(homedir(), '.cache', 'factlab'),
    modelId: directoryFingerprint(modelDir),
    onStatsProgress: (p) => bar.update(p.documents, p.nSamples),
    stop: () => bar.stop(),
  };
}
