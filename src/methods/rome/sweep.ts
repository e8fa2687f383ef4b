import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import type { CounterFactCase } from '../data/counterfact.js';
import { hash32, readJsonCache, writeJsonAtomic } from '../data/cache.js';
import { scoreCase, summarize, type CaseScores, type CounterFactSummary } from '../evaluation/counterfact.js';
import { generationMetrics } from '../evaluation/generation.js';
import type { ReferenceSet } from '../evaluation/consistency.js';
import type { RomeEditor } from './editor.js';
import { editTarget } from './modules.js';
import type { RomeMatrix } from './hparams.js';

export interface SweepOptions {
  layers: readonly number[];
  matrices: readonly RomeMatrix[];
  cases: readonly CounterFactCase[];
  /** Results per (layer, matrix, case) are appended to out/cells.jsonl as they finish; a rerun skips those done. */
  out: string;
  /** Generation tests (fluency, and consistency when references are given), from the rewrite prompt and paraphrases. */
  generation?: { maxNewTokens: number; references?: ReferenceSet; seed?: number };
  /** Key statistics are gathered for at most this many bytes of float64 sums per pass over the corpus (default 2 GiB). */
  statsBytes?: number;
  /** Start afresh, clearing out/ of an earlier run with other settings. */
  restart?: boolean;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface SweepCell {
  layer: number;
  matrix: RomeMatrix;
  caseId: number;
  scores: CaseScores;
  /** Generation metrics (null without generation tests). */
  fluency: number | null;
  consistency: number | null;
  /** The v* search: steps run and the final mean target probability. */
  vSteps: number;
  vProb: number;
  seconds: number;
}

export interface SweepPoint extends CounterFactSummary {
  layer: number;
  matrix: RomeMatrix;
  /** GE ×100 and RS ×100, as ROME reports them (null without generation tests). */
  GE: number | null;
  RS: number | null;
}

export interface SweepResult {
  settings: Record<string, unknown>;
  points: SweepPoint[];
  cells: SweepCell[];
}

const key = (layer: number, matrix: string, caseId: number) => `${layer}/${matrix}/${caseId}`;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/**
 * ROME across layers and matrices on a CounterFact slice (the paper's layer sweep): for every (layer, matrix,
 * case) one edit, its scores, then a revert. Cells are written as they finish, so an interrupted sweep resumes.
 */
export async function romeSweep(editor: RomeEditor, o: SweepOptions): Promise<SweepResult> {
  const model = editor.model;
  for (const m of o.matrices) for (const l of o.layers) editTarget(model.config, l, m);
  const settings = {
    version: 1, model: await editor.modelId(), hparams: { ...editor.hparams, layer: undefined, matrix: undefined },
    cases: `${o.cases.length} cases, fingerprint ${o.cases.reduce((h, c) => hash32(JSON.stringify(c), h), hash32('')).toString(16)}`,
    generation: o.generation ? { maxNewTokens: o.generation.maxNewTokens, references: !!o.generation.references, seed: o.generation.seed ?? 0 } : null,
  };
  mkdirSync(o.out, { recursive: true });
  const runFile = join(o.out, 'run.json'), cellFile = join(o.out, 'cells.jsonl');
  if (o.restart) for (const f of [runFile, cellFile]) rmSync(f, { force: true });
  const prev = readJsonCache<Record<string, unknown>>(runFile, (v) => (typeof v === 'object' && v ? null : 'not an object'));
  if (prev.state === 'ok') {
    const differ = Object.keys(settings).filter((k) => JSON.stringify(prev.value[k]) !== JSON.stringify((settings as Record<string, unknown>)[k]));
    if (differ.length) throw new FactlabError(`${o.out} holds a sweep with other settings (${differ.join(', ')}); use another folder, or restart`);
  } else {
    writeJsonAtomic(runFile, settings);
  }
  const done = new Map<string, SweepCell>();
  if (existsSync(cellFile)) {
    for (const line of readFileSync(cellFile, 'utf8').split('\n')) {
      try { const c = JSON.parse(line) as SweepCell; done.set(key(c.layer, c.matrix, c.caseId), c); } catch { /* a line cut by an interruption is redone */ }
    }
  }
  const total = o.layers.length * o.matrices.length * o.cases.length;
  let count = [...done.keys()].length;
  o.onProgress?.(count, total);
  const targets = o.matrices.flatMap((matrix) => o.layers.map((layer) => ({ layer, matrix })));
  if (editor.hparams.mom2Adjustment) {
    // Statistics for several targets in one pass over the corpus, within a memory budget.
    const budget = o.statsBytes ?? 2 ** 31;
    let group: typeof targets = [], bytes = 0;
    for (const t of targets.filter((t) => o.cases.some((c) => !done.has(key(t.layer, t.matrix, c.caseId))))) {
      const dim = editTarget(model.config, t.layer, t.matrix).keyDim, b = dim * dim * 8;
      if (group.length && bytes + b > budget) { await editor.prepareStats(group); group = []; bytes = 0; }
      group.push(t); bytes += b;
    }
    if (group.length) await editor.prepareStats(group);
  }
  for (const { layer, matrix } of targets) {
    for (const c of o.cases) {
      if (done.has(key(layer, matrix, c.caseId))) continue;
      o.signal?.throwIfAborted();
      const t0 = performance.now();
      const e = await editor.edit({ prompt: c.prompt, subject: c.subject, target: c.targetNew }, { layer, matrix });
      let cell: SweepCell;
      try {
        const scores = await scoreCase(model, editor.tok, c);
        let fluency: number | null = null, consistency: number | null = null;
        if (o.generation) {
          const g = await generationMetrics(model, editor.tok, [c.prompt, ...c.paraphrases], {
            maxNewTokens: o.generation.maxNewTokens, seed: o.generation.seed, tfidf: o.generation.references?.tfidf, references: o.generation.references?.sentences.get(c.targetNew),
          });
          fluency = g.fluency;
          consistency = Number.isNaN(g.consistency) ? null : g.consistency;
        }
        const last = e.v.steps[e.v.steps.length - 1]!;
        cell = { layer, matrix, caseId: c.caseId, scores, fluency, consistency, vSteps: e.v.steps.length, vProb: last.meanProb, seconds: (performance.now() - t0) / 1000 };
      } finally {
        await editor.revert();
      }
      appendFileSync(cellFile, `${JSON.stringify(cell)}\n`);
      done.set(key(layer, matrix, c.caseId), cell);
      o.onProgress?.(++count, total);
    }
  }
  const cells = targets.flatMap(({ layer, matrix }) => o.cases.map((c) => done.get(key(layer, matrix, c.caseId))!));
  const points = targets.map(({ layer, matrix }) => {
    const cs = cells.filter((c) => c.layer === layer && c.matrix === matrix);
    const ge = cs.map((c) => c.fluency).filter((x): x is number => x !== null);
    const rs = cs.map((c) => c.consistency).filter((x): x is number => x !== null);
    return { layer, matrix, ...summarize(cs.map((c) => c.scores)), GE: ge.length ? 100 * mean(ge) : null, RS: rs.length ? 100 * mean(rs) : null };
  });
  const result = { settings, points, cells };
  writeJsonAtomic(join(o.out, 'sweep.json'), { settings, points });
  return result;
}
