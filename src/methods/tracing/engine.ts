import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/creation.js';
import { FactlabError } from '../../tensor/errors.js';
import { softmax } from '../../tensor/ops/reduce/softmax.js';
import { indexSelect } from '../../tensor/ops/shape/index-select.js';
import type { ForwardStart, LanguageModel } from '../../models/model.js';
import { siteAt } from '../../models/sites.js';
import type { LayerCapture, OwnedPast } from '../../models/mamba-past.js';
import type { MambaConfig } from '../../io/config/config.js';
import { PastCache, pastFits, startOf } from './reuse.js';
import { run, type RunResult } from '../../interventions/run.js';
import type { Intervention } from '../../interventions/types.js';
import type { TraceInput } from './types.js';

/** Restore the clean run's activation at `site` (per-layer, without its layer) in `layers`; no layers: a site outside the blocks (hook_embed). */
export interface Restore {
  site: string;
  layers?: readonly number[];
}

/** One patched run: the corrupted prompt with these restorations at these columns. */
export interface Patch {
  restores: readonly Restore[];
  positions: readonly number[];
}

export interface EngineOptions {
  /**
   * Rows per forward pass, the clean row included (default 256: fastest on the H100 at 2.8B, 3.9 s per fact against
   * 4.3 s at 128 and 4.9 s at 64; see docs/performance.md). Results do not depend on it.
   */
  batchSize?: number;
  /**
   * Compute each patch's rows from the first layer it touches, from the residual stream of the clean and corrupted
   * runs cached by the baseline pass (default true). Below that layer every row equals its clean or corrupted run,
   * so nothing is lost; results are the same to the bit.
   */
  reuse?: boolean;
  /**
   * Mamba: also start each forward at the first position its patches touch (default true; needs `reuse`). A patch
   * at position t leaves every earlier position as it was, so a pass goes on from the clean and corrupted runs'
   * recurrent states there (ForwardOptions.past), cached by the baseline pass. That cache holds every layer's
   * SSM state at every position, 4·(1 + samples)·T·nLayer·D_inner·(N + 1) bytes; above 4 GiB passes start at
   * position 0. Results are the same to the bit (to float32 rounding where the kernels' blocking depends on rows).
   */
  reusePositions?: boolean;
  /**
   * Skip patches that restore only positions where every corrupted row still equals the clean row (the prompt's
   * text before the subject, under noise or a swap of equally long subjects): the activations restored there are
   * the ones already there, so such a run is the corrupted run and its p(answer) is `low` (default true).
   */
  skipUnchanged?: boolean;
  /** Called after each forward pass with the patched runs done so far and their total. */
  onProgress?: (done: number, total: number) => void;
}

/** The clean and corrupted runs: the answer, its probabilities, and (with reuse) every layer's residual stream. */
export interface Baseline {
  answer: number;
  high: number;
  low: number;
  /** residuals[l]: [1 + S, T, d] entering layer l (l = nLayer: leaving the last); rows clean, corrupted samples. */
  residuals: Tensor[] | null;
  /** Mamba with position reuse: every layer's conv input and SSM states at every position, rows as in residuals. */
  past: LayerCapture[] | null;
  dispose(): void;
}

const samplesOf = (input: TraceInput) => input.noise?.length ?? 1;

/** The leading positions where every corrupted row equals the clean row: the same id, the same mask, no noise. */
export function sharedPrefix(input: TraceInput): number {
  const { T, ids, mask, noise } = input;
  const d = noise && noise.length > 0 ? noise[0]!.length / T : 0;
  let t = 0;
  while (t < T && ids[t] === ids[T + t] && (!mask || mask[t] === mask[T + t])
    && !(noise ?? []).some((z) => z.subarray(t * d, (t + 1) * d).some((v) => v !== 0))) t++;
  return t;
}

/** The ids and mask, from `position` on, of rows that are each the clean row (source −1) or a corrupted row of noise sample k. */
function rowsData(input: TraceInput, sources: readonly number[], position = 0): { ids: Tensor; mask: Tensor | undefined } {
  const { T } = input, width = T - position;
  const ids = new Int32Array(sources.length * width), mask = new Int32Array(sources.length * width);
  sources.forEach((src, r) => {
    const from = (src < 0 ? 0 : T) + position;
    ids.set(input.ids.subarray(from, from + width), r * width);
    if (input.mask) mask.set(input.mask.subarray(from, from + width), r * width);
  });
  return { ids: tensor(ids, [sources.length, width]), mask: input.mask ? tensor(mask, [sources.length, width]) : undefined };
}

/** Noise corruption as an intervention: each corrupted row gets its sample's noise on its embeddings. */
function noiseIntervention(input: TraceInput, sources: readonly number[], dModel: number): Intervention | null {
  if (!input.noise) return null;
  const { T } = input;
  const value = new Float32Array(sources.length * T * dModel);
  sources.forEach((src, r) => { if (src >= 0) value.set(input.noise![src]!, r * T * dModel); });
  return { site: 'hook_embed', kind: 'add', value: tensor(value, [sources.length, T, dModel]) };
}

function disposeInterventions(list: readonly Intervention[]): void {
  for (const p of list) if (p.kind === 'add' || p.kind === 'replace') p.value.dispose();
}

/** p(answer) at the last position of each row. */
export async function answerProbs(logits: Tensor, answer: number): Promise<Float32Array> {
  const p = softmax(logits, -1);
  const idx = tensor(new Int32Array([answer]), [1]);
  const col = indexSelect(p, 1, idx);
  const out = await col.data() as Float32Array;
  p.dispose(); idx.dispose(); col.dispose();
  return out;
}

/** Runs the clean row and the corrupted row(s); answer = the clean run's argmax, unless given. */
export async function baseline(model: LanguageModel, input: TraceInput, opts: { reuse?: boolean; reusePositions?: boolean; answer?: number } = {}): Promise<Baseline> {
  const S = samplesOf(input), n = model.config.nLayer;
  const sources = [-1, ...Array.from({ length: S }, (_, k) => k)];
  const { ids, mask } = rowsData(input, sources);
  const noise = noiseIntervention(input, sources, model.config.dModel);
  const reuse = opts.reuse ?? true;
  const keepPast = reuse && (opts.reusePositions ?? true) && pastFits(model, input);
  const layers = Array.from({ length: n }, (_, l) => l);
  let r: RunResult;
  try {
    r = run(model, ids, {
      attentionMask: mask, logits: 'last', interventions: noise ? [noise] : [],
      capture: [
        ...(reuse ? [{ site: 'hook_resid_pre', layers }, `blocks.${n - 1}.hook_resid_post`] : []),
        ...(keepPast ? [{ site: 'mixer.hook_x', layers }, { site: 'mixer.hook_ssm_state', layers }] : []),
      ],
    });
  } finally {
    ids.dispose(); mask?.dispose(); if (noise) disposeInterventions([noise]);
  }
  let answer = opts.answer;
  if (answer === undefined) {
    const V = r.logits.shape[1]!;
    const row0 = (await r.logits.data() as Float32Array).subarray(0, V);
    answer = 0;
    for (let v = 1; v < V; v++) if (row0[v]! > row0[answer]!) answer = v;
  }
  const p = await answerProbs(r.logits, answer);
  r.logits.dispose();
  const residuals = reuse ? [...layers.map((l) => r.captures.get(`blocks.${l}.hook_resid_pre`)!), r.captures.get(`blocks.${n - 1}.hook_resid_post`)!] : null;
  const past = keepPast ? layers.map((l) => ({ x: r.captures.get(`blocks.${l}.mixer.hook_x`)!, ssm: r.captures.get(`blocks.${l}.mixer.hook_ssm_state`)! })) : null;
  const low = Array.from(p.subarray(1)).reduce((a, b) => a + b, 0) / S;
  return { answer, high: p[0]!, low, residuals, past, dispose: () => { for (const t of r.captures.values()) t.dispose(); } };
}

/** The first layer a patch changes: below it the row is its corrupted run (−1: the embeddings change). */
function startLayer(p: Patch, nLayer: number): number {
  if (p.positions.length === 0) return nLayer;
  let s = nLayer;
  for (const r of p.restores) s = Math.min(s, r.layers ? Math.min(...r.layers) : -1);
  return s;
}

/** The first position a patch changes (a patch of nothing changes nothing, and the last position is still read). */
function startPosition(p: Patch, T: number): number {
  return p.positions.length === 0 ? T - 1 : Math.min(...p.positions);
}

export interface PatchBatch {
  run: RunResult;
  /** rowsOf[j]: the rows of the j-th patch (one per noise sample). */
  rowsOf: number[][];
  /** The first position the pass computed: its logits and hooks cover positions position…T−1. */
  position: number;
}

/**
 * One forward pass: row 0 the clean prompt, then each patch's corrupted row(s), each patch restored by copying
 * row 0's activations (copyRow). One copyRow per (site, layer) carries every row restored there, each at its own
 * positions, so a batch costs one selection per site and layer, whatever its number of patches. With the
 * baseline's residuals each patch's rows join the pass at the first layer it changes (ForwardStart.joins: rows in
 * order of that layer, the clean row first); with its states (Mamba), the pass also starts at the first position
 * its patches change, unless every position's logits are asked for.
 */
export function forwardPatches(model: LanguageModel, input: TraceInput, base: Baseline, group: readonly Patch[], opts: { logits?: 'last' | 'all'; pasts?: PastCache } = {}): PatchBatch {
  const S = samplesOf(input), n = model.config.nLayer;
  const starts = group.map((p) => startLayer(p, n));
  const start = base.residuals && Math.min(...starts) >= 0 ? Math.min(...starts) : null;
  const order = group.map((_, j) => j);
  if (start !== null) order.sort((a, b) => starts[a]! - starts[b]! || a - b);
  const sources = [-1], rowsOf: number[][] = [];
  for (const j of order) rowsOf[j] = Array.from({ length: S }, (_, k) => { sources.push(k); return sources.length - 1; });
  const position = start !== null && base.past && opts.logits !== 'all' ? Math.min(...group.map((p) => startPosition(p, input.T))) : 0;
  const byPlace = new Map<string, { site: string; rows: number[]; positions: number[][] }>();
  group.forEach((p, j) => {
    if (p.positions.length === 0) return;
    for (const r of p.restores) {
      for (const site of r.layers ? r.layers.map((l) => siteAt(r.site, l)) : [r.site]) {
        const at = byPlace.get(site) ?? { site, rows: [], positions: [] };
        for (const row of rowsOf[j]!) { at.rows.push(row); at.positions.push(p.positions.map((t) => t - position)); }
        byPlace.set(site, at);
      }
    }
  });
  const interventions: Intervention[] = [];
  const noise = start === null ? noiseIntervention(input, sources, model.config.dModel) : null;
  if (noise) interventions.push(noise); // before any copyRow at hook_embed, so that a restored embedding is clean
  for (const at of byPlace.values()) interventions.push({ site: at.site, rows: at.rows, positions: at.positions, kind: 'copyRow', fromRow: 0 });
  const { ids, mask } = rowsData(input, sources, position);
  let pastRows: Tensor | undefined;
  let begin: ForwardStart | undefined, past: OwnedPast | undefined;
  const pasts = position > 0 ? opts.pasts ?? new PastCache() : undefined;
  try {
    if (start !== null) {
      begin = startOf(base.residuals!, input.T, position, sources, [start, ...order.flatMap((j) => new Array<number>(S).fill(starts[j]!))]);
      if (pasts) {
        pastRows = tensor(Int32Array.from(sources, (src) => src + 1), [sources.length]);
        past = { ...pasts.get(model.config as MambaConfig, base.past!, position, start), rows: pastRows };
      }
    }
    const r = run(model, ids, { attentionMask: mask, logits: opts.logits ?? 'last', interventions, ...(begin ? { start: begin } : {}), ...(past ? { past } : {}) });
    return { run: r, rowsOf, position };
  } finally {
    ids.dispose(); mask?.dispose();
    pastRows?.dispose();
    if (begin) for (const t of [begin.residual, ...(begin.joins ?? []).map((j) => j.residual)]) t.dispose();
    disposeInterventions(interventions);
    if (pasts && pasts !== opts.pasts) pasts.dispose();
  }
}

/** How patches are grouped into forward passes: indices into the patch list, and the layer and position each pass starts at. */
export interface BatchPlan {
  groups: { patches: number[]; start: number; position: number }[];
  /** Patches that restore only positions within PlanOptions.shared: they change nothing, and run in no pass. */
  unchanged: number[];
  /** Row × layer × position computations of the plan, and of the same batches run whole from the embeddings. */
  work: number;
  workFromEmbeddings: number;
}

export interface PlanOptions {
  nLayer: number;
  /** The prompt's length. */
  T: number;
  batchSize: number;
  /** Corrupted rows per patch (noise samples). */
  samples: number;
  /** What the passes reuse: nothing (from the embeddings), the cached residuals (rows join at their first layer), or also the states (Mamba: passes start at their first position). */
  reuse?: 'none' | 'layers' | 'positions';
  /** Leading positions where the corrupted rows equal the clean row (sharedPrefix); default 0. */
  shared?: number;
}

/**
 * Patches ordered by the first position and layer they change and cut into passes of at most `batchSize` rows (the
 * clean row and `samples` rows per patch). With reuse each patch's rows are computed from the first layer it
 * changes, and with position reuse a pass from the first position its patches change.
 */
export function planBatches(patches: readonly Patch[], o: PlanOptions): BatchPlan {
  const { nLayer, T, batchSize, samples } = o, reuse = o.reuse ?? 'none';
  if (!Number.isInteger(batchSize) || batchSize < 1 + samples) throw new FactlabError(`tracing: the batch size must be at least ${1 + samples} rows (the clean row and ${samples} corrupted), got ${batchSize}`);
  const per = Math.floor((batchSize - 1) / samples);
  const starts = patches.map((p) => startLayer(p, nLayer));
  const firsts = patches.map((p) => (reuse === 'positions' ? startPosition(p, T) : 0));
  const shared = o.shared ?? 0;
  const skip = patches.map((p) => p.positions.length > 0 && p.positions.every((t) => t < shared));
  const unchanged = patches.flatMap((_, i) => (skip[i] ? [i] : []));
  const order = patches.map((_, i) => i).filter((i) => !skip[i]).sort((a, b) => firsts[a]! - firsts[b]! || starts[a]! - starts[b]! || a - b);
  const groups: BatchPlan['groups'] = [];
  // Skipped patches count in the work the passes would have done from the embeddings.
  let work = 0, workFromEmbeddings = unchanged.length * samples * nLayer * T;
  for (let i = 0; i < order.length; i += per) {
    const ids = order.slice(i, i + per);
    const fromEmbeddings = reuse === 'none' || ids.some((j) => starts[j]! < 0);
    const start = fromEmbeddings ? 0 : Math.min(...ids.map((j) => starts[j]!));
    const position = fromEmbeddings ? 0 : Math.min(...ids.map((j) => firsts[j]!));
    groups.push({ patches: ids, start, position });
    // The clean row from the pass's start, each patch's rows from their own first layer.
    const layers = fromEmbeddings ? (1 + ids.length * samples) * nLayer : (nLayer - start) + ids.reduce((a, j) => a + samples * (nLayer - starts[j]!), 0);
    work += layers * (T - position);
    workFromEmbeddings += (1 + ids.length * samples) * nLayer * T;
  }
  return { groups, unchanged, work, workFromEmbeddings };
}

/**
 * p(answer) of each patched run (the mean over noise samples), computed in batches of `batchSize` rows. Patches
 * are ordered by the first position and layer they change, so that a batch can start there when reuse is on.
 */
export async function patchedProbs(model: LanguageModel, input: TraceInput, base: Baseline, patches: readonly Patch[], opts: EngineOptions = {}): Promise<Float64Array> {
  const S = samplesOf(input);
  const plan = planBatches(patches, {
    nLayer: model.config.nLayer, T: input.T, batchSize: opts.batchSize ?? 256, samples: S,
    reuse: base.past ? 'positions' : base.residuals ? 'layers' : 'none', shared: (opts.skipUnchanged ?? true) ? sharedPrefix(input) : 0,
  });
  const out = new Float64Array(patches.length);
  for (const j of plan.unchanged) out[j] = base.low;
  const pasts = new PastCache();
  let done = plan.unchanged.length;
  opts.onProgress?.(done, patches.length);
  // Each pass's read is started (its kernels and copy submitted) before the next pass is recorded, and awaited
  // after: the GPU runs one pass while the host records the next, where awaiting first left it idle meanwhile.
  let previous: Promise<void> = Promise.resolve();
  try {
    for (const { patches: ids } of plan.groups) {
      const { run: r, rowsOf } = forwardPatches(model, input, base, ids.map((j) => patches[j]!), { pasts });
      const probs = answerProbs(r.logits, base.answer);
      r.dispose();
      const settled = probs.then((p) => {
        ids.forEach((j, g) => { out[j] = rowsOf[g]!.reduce((a, row) => a + p[row]!, 0) / S; });
        done += ids.length;
        opts.onProgress?.(done, patches.length);
      });
      // Marked as handled at once (a failure surfaces when it is awaited, on the next turn or below), so that it
      // cannot count as an unhandled rejection while the previous pass is awaited.
      settled.catch(() => undefined);
      const older = previous;
      previous = settled;
      await older;
    }
    await previous;
  } finally {
    // After a failure the newest pass may still be in flight: let it settle before the states it reads are freed.
    await previous.catch(() => undefined);
    pasts.dispose();
  }
  return out;
}
