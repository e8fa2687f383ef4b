import { FactlabError } from '../../tensor/errors.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { baseline, patchedProbs, type EngineOptions, type Patch } from './engine.js';
import { prepareNoise, prepareSwap, type Prepared } from './prepare.js';
import { defaultSiteNames, resolveTraceSite, windowLayers, type TraceSite } from './sites.js';
import type { Corruption, FactTrace, SiteScores, TraceInput } from './types.js';
import { embeddingStd } from './embedding-std.js';

export interface TraceOptions extends EngineOptions {
  /** Sites as names ('residual', 's', 'g', 'o', 'attn', 'mlp', a hook site, 'o:5') or resolved; default the paper's. */
  sites?: readonly (string | TraceSite)[];
  /** Layers restored together at every site but the residual stream (default 10: L−5 … L+4). */
  window?: number;
  /** Default: subject swap. */
  corruption?: Corruption;
  /** Seeds the noise (and, over a data set, the choice of alternative subjects). */
  seed?: number;
  /** Mask left padding (default true: each row computes as if alone). false runs the pads as tokens, as romba's Mamba does. */
  mask?: boolean;
}

export interface FactQuery {
  prompt: string;
  subject: string;
  object?: string;
  /** The corrupted prompt's subject, for subject swap. */
  altSubject?: string;
}

export function resolveSites(model: LanguageModel, opts: TraceOptions): TraceSite[] {
  const specs = opts.sites ?? defaultSiteNames(model.config);
  if (specs.length === 0) throw new FactlabError('tracing: no sites to trace');
  return specs.map((s) => (typeof s === 'string' ? resolveTraceSite(model.config, s, opts.window) : s));
}

/** The patches of a full trace: every site, traced column and layer, in that order. */
export function tracePatches(input: TraceInput, sites: readonly TraceSite[], nLayer: number): Patch[] {
  const patches: Patch[] = [];
  for (const s of sites) {
    for (let t = input.first; t < input.T; t++) {
      for (let l = 0; l < nLayer; l++) patches.push({ restores: [{ site: s.site, layers: windowLayers(l, s.window, nLayer) }], positions: [t] });
    }
  }
  return patches;
}

/** The matrices of one prepared prompt: p(answer) at every site, traced token and layer. */
export async function traceInput(model: LanguageModel, input: TraceInput, sites: readonly TraceSite[], opts: EngineOptions = {}): Promise<{ answer: number; high: number; low: number; sites: SiteScores[] }> {
  const n = model.config.nLayer;
  const base = await baseline(model, input, { reuse: opts.reuse, reusePositions: opts.reusePositions });
  try {
    const p = await patchedProbs(model, input, base, tracePatches(input, sites, n), opts);
    const rows = input.T - input.first;
    const scores = sites.map((s, k) => ({
      name: s.name, site: s.site, window: s.window,
      scores: Array.from({ length: rows }, (_, i) => Array.from(p.subarray((k * rows + i) * n, (k * rows + i + 1) * n))),
    }));
    return { answer: base.answer, high: base.high, low: base.low, sites: scores };
  } finally {
    base.dispose();
  }
}

/** Lays a prompt out for the corruption asked for. */
export async function prepareFact(model: LanguageModel, tok: FactTokenizer, q: FactQuery, opts: TraceOptions & { noiseSeed?: number } = {}): Promise<Prepared> {
  const corruption = opts.corruption ?? { kind: 'swap' };
  if (!q.prompt.includes(q.subject)) throw new FactlabError(`subject ${JSON.stringify(q.subject)} does not occur in prompt ${JSON.stringify(q.prompt)}`);
  if (corruption.kind === 'swap') {
    if (!q.altSubject) throw new FactlabError('subject swap needs an alternative subject (altSubject, --alt-subject), or use noise corruption');
    return prepareSwap(tok, q.prompt, q.subject, q.altSubject, { mask: opts.mask });
  }
  const samples = corruption.samples ?? 10;
  if (!Number.isInteger(samples) || samples < 1) throw new FactlabError(`noise corruption: samples must be a positive integer, got ${samples}`);
  const scale = corruption.scale ?? 3, sigma = corruption.std ?? await embeddingStd(model), seed = opts.noiseSeed ?? opts.seed ?? 0;
  const noise = { samples, scale, sigma, std: scale * sigma, seed };
  return { ...prepareNoise(tok, q.prompt, q.subject, { samples, std: noise.std, dModel: model.config.dModel, seed }), noise };
}

/** A prepared prompt's matrices as the trace of one fact. */
export function factTrace(tok: FactTokenizer, q: FactQuery, prepared: Prepared, r: Awaited<ReturnType<typeof traceInput>>): FactTrace {
  const { input, tokens } = prepared;
  return {
    prompt: q.prompt, subject: q.subject, ...(q.object !== undefined ? { object: q.object } : {}),
    ...(input.noise ? {} : { altSubject: q.altSubject }),
    corruption: input.noise ? 'noise' : 'swap',
    ...(prepared.noise ? { noise: prepared.noise } : {}),
    tokens,
    subjectRange: [input.subject.start - input.first, input.subject.end - input.first],
    answer: { id: r.answer, text: tok.decode([r.answer]) },
    high: r.high, low: r.low, sites: r.sites,
  };
}

/**
 * Causal tracing of one prompt (Meng et al. 2022; Sen Sharma et al. 2024): for each site, token and layer, the
 * probability of the clean run's top-1 token when the corrupted run gets that site's clean activation back there.
 */
export async function traceFact(model: LanguageModel, tok: FactTokenizer, q: FactQuery, opts: TraceOptions = {}): Promise<FactTrace> {
  const sites = resolveSites(model, opts);
  const prepared = await prepareFact(model, tok, q, opts);
  return factTrace(tok, q, prepared, await traceInput(model, prepared.input, sites, opts));
}
