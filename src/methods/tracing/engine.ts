import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/creation.js';
import { FactlabError } from '../../tensor/errors.js';
import { softmax } from '../../tensor/ops/reduce/softmax.js';
import { indexSelect } from '../../tensor/ops/shape/index-select.js';
import type { LanguageModel } from '../../models/model.js';
import { siteAt } from '../../models/sites.js';
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
  /** Rows per forward pass, the clean row included (default 32). Results do not depend on it. */
  batchSize?: number;
  /**
   * Start each forward at the lowest layer its patches touch, from the residual stream of the clean and corrupted
   * runs cached by the baseline pass (default true). Below that layer every row equals its clean or corrupted run,
   * so nothing is lost; results are the same to the bit.
   */
  reuse?: boolean;
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
  dispose(): void;
}

const samplesOf = (input: TraceInput) => input.noise?.length ?? 1;

/** The ids and mask of rows that are each the clean row (source −1) or a corrupted row of noise sample k. */
function rowsData(input: TraceInput, sources: readonly number[]): { ids: Tensor; mask: Tensor | undefined } {
  const { T } = input;
  const ids = new Int32Array(sources.length * T), mask = new Int32Array(sources.length * T);
  sources.forEach((src, r) => {
    const from = src < 0 ? 0 : T;
    ids.set(input.ids.subarray(from, from + T), r * T);
    if (input.mask) mask.set(input.mask.subarray(from, from + T), r * T);
  });
  return { ids: tensor(ids, [sources.length, T]), mask: input.mask ? tensor(mask, [sources.length, T]) : undefined };
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
export async function baseline(model: LanguageModel, input: TraceInput, opts: { reuse?: boolean; answer?: number } = {}): Promise<Baseline> {
  const S = samplesOf(input), n = model.config.nLayer;
  const sources = [-1, ...Array.from({ length: S }, (_, k) => k)];
  const { ids, mask } = rowsData(input, sources);
  const noise = noiseIntervention(input, sources, model.config.dModel);
  const reuse = opts.reuse ?? true;
  let r: RunResult;
  try {
    r = run(model, ids, {
      attentionMask: mask, logits: 'last', interventions: noise ? [noise] : [],
      capture: reuse ? [{ site: 'hook_resid_pre', layers: Array.from({ length: n }, (_, l) => l) }, `blocks.${n - 1}.hook_resid_post`] : [],
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
  const residuals = reuse ? [...Array.from({ length: n }, (_, l) => r.captures.get(`blocks.${l}.hook_resid_pre`)!), r.captures.get(`blocks.${n - 1}.hook_resid_post`)!] : null;
  const low = Array.from(p.subarray(1)).reduce((a, b) => a + b, 0) / S;
  return { answer, high: p[0]!, low, residuals, dispose: () => { for (const t of r.captures.values()) t.dispose(); } };
}

/** The first layer a patch changes: below it the row is its corrupted run (−1: the embeddings change). */
function startLayer(p: Patch, nLayer: number): number {
  if (p.positions.length === 0) return nLayer;
  let s = nLayer;
  for (const r of p.restores) s = Math.min(s, r.layers ? Math.min(...r.layers) : -1);
  return s;
}

export interface PatchBatch {
  run: RunResult;
  /** rowsOf[j]: the rows of the j-th patch (one per noise sample). */
  rowsOf: number[][];
}

/**
 * One forward pass: row 0 the clean prompt, then each patch's corrupted row(s), each patch restored by copying
 * row 0's activations (copyRow). One copyRow per (site, layer) carries every row restored there, each at its own
 * positions, so a batch costs one selection per site and layer, whatever its number of patches.
 */
export function forwardPatches(model: LanguageModel, input: TraceInput, base: Baseline, group: readonly Patch[], opts: { logits?: 'last' | 'all' } = {}): PatchBatch {
  const S = samplesOf(input), n = model.config.nLayer;
  const sources = [-1];
  const rowsOf = group.map(() => Array.from({ length: S }, (_, k) => { sources.push(k); return sources.length - 1; }));
  const starts = group.map((p) => startLayer(p, n));
  const start = base.residuals && Math.min(...starts) >= 0 ? Math.min(...starts) : null;
  const byPlace = new Map<string, { site: string; rows: number[]; positions: number[][] }>();
  group.forEach((p, j) => {
    if (p.positions.length === 0) return;
    for (const r of p.restores) {
      for (const site of r.layers ? r.layers.map((l) => siteAt(r.site, l)) : [r.site]) {
        const at = byPlace.get(site) ?? { site, rows: [], positions: [] };
        for (const row of rowsOf[j]!) { at.rows.push(row); at.positions.push([...p.positions]); }
        byPlace.set(site, at);
      }
    }
  });
  const interventions: Intervention[] = [];
  const noise = start === null ? noiseIntervention(input, sources, model.config.dModel) : null;
  if (noise) interventions.push(noise); // before any copyRow at hook_embed, so that a restored embedding is clean
  for (const at of byPlace.values()) interventions.push({ site: at.site, rows: at.rows, positions: at.positions, kind: 'copyRow', fromRow: 0 });
  const { ids, mask } = rowsData(input, sources);
  let residual: Tensor | undefined;
  if (start !== null) {
    const idx = tensor(Int32Array.from(sources, (s) => s + 1), [sources.length]);
    residual = indexSelect(base.residuals![start]!, 0, idx);
    idx.dispose();
  }
  try {
    const r = run(model, ids, { attentionMask: mask, logits: opts.logits ?? 'last', interventions, ...(residual ? { start: { layer: start!, residual } } : {}) });
    return { run: r, rowsOf };
  } finally {
    ids.dispose(); mask?.dispose(); residual?.dispose(); disposeInterventions(interventions);
  }
}

/** How patches are grouped into forward passes: indices into the patch list, and the layer each pass starts at. */
export interface BatchPlan {
  groups: { patches: number[]; start: number }[];
  /** Layer computations (rows × layers) of the plan, and of the same batches run from the embeddings. */
  layerRows: number;
  layerRowsFromEmbeddings: number;
}

/**
 * Patches ordered by the first layer they change and cut into passes of at most `batchSize` rows (the clean row
 * and `samples` rows per patch), so that a pass can start at the lowest layer of its patches.
 */
export function planBatches(patches: readonly Patch[], nLayer: number, batchSize: number, samples: number): BatchPlan {
  if (!Number.isInteger(batchSize) || batchSize < 1 + samples) throw new FactlabError(`tracing: the batch size must be at least ${1 + samples} rows (the clean row and ${samples} corrupted), got ${batchSize}`);
  const per = Math.floor((batchSize - 1) / samples);
  const starts = patches.map((p) => startLayer(p, nLayer));
  const order = patches.map((_, i) => i).sort((a, b) => starts[a]! - starts[b]! || a - b);
  const groups: BatchPlan['groups'] = [];
  let layerRows = 0, layerRowsFromEmbeddings = 0;
  for (let i = 0; i < order.length; i += per) {
    const ids = order.slice(i, i + per);
    const start = Math.max(0, Math.min(...ids.map((j) => starts[j]!)));
    const rows = 1 + ids.length * samples;
    groups.push({ patches: ids, start });
    layerRows += rows * (nLayer - start);
    layerRowsFromEmbeddings += rows * nLayer;
  }
  return { groups, layerRows, layerRowsFromEmbeddings };
}

/**
 * p(answer) of each patched run (the mean over noise samples), computed in batches of `batchSize` rows. Patches
 * are ordered by the first layer they change, so that a batch can start high when reuse is on.
 */
export async function patchedProbs(model: LanguageModel, input: TraceInput, base: Baseline, patches: readonly Patch[], opts: EngineOptions = {}): Promise<Float64Array> {
  const S = samplesOf(input);
  const plan = planBatches(patches, model.config.nLayer, opts.batchSize ?? 32, S);
  const out = new Float64Array(patches.length);
  let done = 0;
  opts.onProgress?.(0, patches.length);
  for (const { patches: ids } of plan.groups) {
    const { run: r, rowsOf } = forwardPatches(model, input, base, ids.map((j) => patches[j]!));
    const p = await answerProbs(r.logits, base.answer);
    r.dispose();
    ids.forEach((j, g) => { out[j] = rowsOf[g]!.reduce((a, row) => a + p[row]!, 0) / S; });
    done += ids.length;
    opts.onProgress?.(done, patches.length);
  }
  return out;
}
