import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/index.js';
import type { Relation } from '../data/relations.js';
import { estimateLre } from './estimate.js';
import { LreOperator } from './operator.js';
import { causalityByRank, faithfulnessByBeta, probe } from './metrics.js';
import { splitSamples } from './split.js';
import { claimSettings } from '../data/fact-runs.js';
import type { HLayer } from './types.js';

export interface LreSweepOptions {
  /** h layers to try (default: the embeddings and every layer). */
  layers?: HLayer[];
  nTrain?: number;
  trials?: number;
  /** β values for faithfulness (default linspace(0, 5, 21), as Hernandez et al.). */
  betas?: number[];
  /** Ranks for causality (default 0, 8, ... up to min(320, d)). */
  ranks?: number[];
  /** Test samples scored per trial at most (the rest are skipped; default all). */
  maxTests?: number;
  seed?: number;
  chunk?: number;
  /** Results per (relation, trial, layer) are cached here and reused, so an interrupted sweep resumes. */
  cacheDir?: string;
  onStep?: (done: number, total: number) => void;
}

/** One (trial, layer) cell: faithfulness for each β and causality for each rank. */
export interface LreCell {
  trial: number;
  layer: HLayer;
  nTrain: number;
  /** Test samples the model gets right (the ones scored). */
  nScored: number;
  /** null where no test sample was scored (JSON has no NaN). */
  recallByBeta: { beta: number; recall: (number | null)[] }[];
  bestBeta: number;
  efficacyByRank: { rank: number; efficacy: number | null }[];
  bestRank: number;
}

export interface LreRelationResult {
  relation: string;
  cells: LreCell[];
  /** The layer with the best mean faithfulness (recall@1 at its best β), and its mean figures. */
  best: { layer: HLayer; faithfulness: number | null; efficacy: number | null; beta: number; rank: number };
}

const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => +(a + ((b - a) * i) / (n - 1)).toFixed(6));

function writeAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
}

async function evaluateCell(model: LanguageModel, tok: FactTokenizer, relation: Relation, trial: number, layer: HLayer, o: Required<Omit<LreSweepOptions, 'cacheDir' | 'onStep' | 'layers' | 'maxTests'>> & { maxTests?: number }): Promise<LreCell> {
  const split = splitSamples(relation.samples, o.nTrain, o.seed + trial);
  const tests = o.maxTests ? split.test.slice(0, o.maxTests) : split.test;
  const est = estimateLre(model, tok, relation.templates[0]!, split.train, layer, { chunk: o.chunk });
  try {
    const ranks = o.ranks.filter((r) => r <= model.config.dModel);
    const op = await LreOperator.from(est, Math.max(...ranks, 1));
    const probes = await probe(model, tok, op, tests);
    const recallByBeta = (await faithfulnessByBeta(model, tok, op, probes, { betas: o.betas })).map((f, i) => ({ beta: o.betas[i]!, recall: f.recall.map(orNull) }));
    const bestBeta = recallByBeta.reduce((a, b) => ((b.recall[0] ?? -1) > (a.recall[0] ?? -1) ? b : a)).beta;
    const efficacyByRank = (await causalityByRank(model, tok, op, probes, { ranks, beta: bestBeta, seed: o.seed + trial, chunk: o.chunk })).map((c, i) => ({ rank: ranks[i]!, efficacy: orNull(c.efficacy) }));
    const bestRank = efficacyByRank.reduce((a, b) => ((b.efficacy ?? -1) > (a.efficacy ?? -1) ? b : a), efficacyByRank[0]!).rank;
    return { trial, layer, nTrain: split.train.length, nScored: probes.filter((p) => p.modelCorrect).length, recallByBeta, bestBeta, efficacyByRank, bestRank };
  } finally {
    est.dispose();
  }
}

const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x);
const mean = (xs: (number | null | undefined)[]): number | null => {
  const v = xs.filter((x): x is number => typeof x === 'number' && !Number.isNaN(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
};

/**
 * Estimates and scores LREs of one relation over trials and layers, as Hernandez et al.'s sweeps do: per cell the
 * β with the best recall@1 and the rank with the best causality; per relation the layer with the best mean
 * faithfulness. Deterministic under `seed`; cached and resumable with `cacheDir`.
 */
export async function sweepRelation(model: LanguageModel, tok: FactTokenizer, relation: Relation, opts: LreSweepOptions = {}): Promise<LreRelationResult> {
  const o = {
    nTrain: opts.nTrain ?? 5, trials: opts.trials ?? 3, betas: opts.betas ?? linspace(0, 5, 21),
    ranks: opts.ranks ?? Array.from({ length: 40 }, (_, i) => i * 8), seed: opts.seed ?? 0, chunk: opts.chunk ?? 64, maxTests: opts.maxTests,
  };
  const layers = opts.layers ?? (['emb', ...Array.from({ length: model.config.nLayer }, (_, l) => l)] as HLayer[]);
  if (opts.cacheDir) {
    mkdirSync(opts.cacheDir, { recursive: true });
    const tests = Math.min(o.maxTests ?? Infinity, relation.samples.length - o.nTrain);
    claimSettings(join(opts.cacheDir, `${relation.id}.settings.json`), { template: relation.templates[0], samples: relation.samples.length, nTrain: o.nTrain, tests, seed: o.seed, betas: o.betas, ranks: o.ranks }, `${opts.cacheDir} holds LRE results of ${relation.id}`);
  }
  const cells: LreCell[] = [];
  const total = o.trials * layers.length;
  for (let trial = 0; trial < o.trials; trial++) {
    for (const layer of layers) {
      const file = opts.cacheDir ? join(opts.cacheDir, `${relation.id}.trial${trial}.layer-${layer}.json`) : null;
      let cell: LreCell | null = null;
      if (file && existsSync(file)) {
        try { cell = JSON.parse(readFileSync(file, 'utf8')) as LreCell; } catch { cell = null; } // a damaged cache entry is recomputed
      }
      if (!cell) {
        cell = await evaluateCell(model, tok, relation, trial, layer, o);
        if (file) writeAtomic(file, cell);
      }
      cells.push(cell);
      opts.onStep?.(cells.length, total);
    }
  }
  const perLayer = layers.map((layer) => {
    const cs = cells.filter((c) => c.layer === layer);
    const best = (c: LreCell) => c.recallByBeta.find((r) => r.beta === c.bestBeta)?.recall[0];
    const eff = (c: LreCell) => c.efficacyByRank.find((r) => r.rank === c.bestRank)?.efficacy;
    return { layer, faithfulness: mean(cs.map(best)), efficacy: mean(cs.map(eff)), beta: mean(cs.map((c) => c.bestBeta))!, rank: Math.round(mean(cs.map((c) => c.bestRank))!) };
  });
  const best = perLayer.reduce((a, b) => ((b.faithfulness ?? -1) > (a.faithfulness ?? -1) ? b : a));
  return { relation: relation.id, cells, best };
}
