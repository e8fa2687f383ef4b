import { tensor } from '../../tensor/creation.js';
import { argmax } from '../../tensor/ops/reduce/max.js';
import type { LanguageModel } from '../../models/model.js';
import { run } from '../../interventions/run.js';
import type { Cut, Intervention } from '../../interventions/types.js';
import { answerProbs } from '../tracing/engine.js';

/** The prompt rows every batch starts with (clean; corrupted), [head, T] row-major, with their mask if any. */
export interface HeadRows {
  ids: Int32Array;
  mask: Int32Array | null;
  T: number;
  head: number;
}

/** What the patched rows of one batch need: `rows[k]` is batch row head + k. */
export type BuildPatches<Row> = (rows: readonly Row[], head: number) => { interventions: Intervention[]; cuts: Cut[]; dispose?: () => void };

/** The answer (argmax at the last position of head row 0) and p(answer) in every head row. */
export async function headProbs(model: LanguageModel, h: HeadRows): Promise<{ answer: number; probs: Float32Array }> {
  const ids = tensor(h.ids, [h.head, h.T]), mask = h.mask ? tensor(h.mask, [h.head, h.T]) : undefined;
  const logits = model.forward(ids, { attentionMask: mask, logits: 'last' });
  const top = argmax(logits, -1);
  const answer = (await top.data())[0]!;
  const probs = await answerProbs(logits, answer);
  ids.dispose(); mask?.dispose(); logits.dispose(); top.dispose();
  return { answer, probs };
}

/**
 * p(answer) at the last position of each patched row. Rows run in batches of `batchSize`: the head rows first
 * (interventions copy from them), then patched rows, each a copy of head row `base`.
 */
export async function patchedProbs<Row>(model: LanguageModel, h: HeadRows, base: number, answer: number, rows: readonly Row[], batchSize: number, build: BuildPatches<Row>): Promise<Float32Array> {
  const out = new Float32Array(rows.length);
  const per = Math.max(1, batchSize - h.head);
  const { T } = h;
  for (let at = 0; at < rows.length; at += per) {
    const chunk = rows.slice(at, at + per), n = h.head + chunk.length;
    const ids = new Int32Array(n * T), mask = h.mask ? new Int32Array(n * T) : null;
    ids.set(h.ids.subarray(0, h.head * T));
    mask?.set(h.mask!.subarray(0, h.head * T));
    for (let k = 0; k < chunk.length; k++) {
      ids.set(h.ids.subarray(base * T, base * T + T), (h.head + k) * T);
      mask?.set(h.mask!.subarray(base * T, base * T + T), (h.head + k) * T);
    }
    const patches = build(chunk, h.head);
    const idsT = tensor(ids, [n, T]), maskT = mask ? tensor(mask, [n, T]) : undefined;
    try {
      const r = run(model, idsT, { attentionMask: maskT, logits: 'last', interventions: patches.interventions, cuts: patches.cuts });
      const p = await answerProbs(r.logits, answer);
      out.set(p.subarray(h.head), at);
      r.dispose();
    } finally {
      idsT.dispose(); maskT?.dispose(); patches.dispose?.();
    }
  }
  return out;
}
