import { tensor } from '../../tensor/creation.js';
import { tidy } from '../../tensor/lifetime.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { indexSelect } from '../../tensor/ops/shape/index-select.js';
import { crossEntropy } from '../../tensor/ops/loss/cross-entropy.js';
import { argmax } from '../../tensor/ops/reduce/max.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import type { CounterFactCase } from '../data/counterfact.js';

/** NLL (mean over the target's tokens) of a target after a prefix, and whether every target token is the argmax. */
export interface TargetScore {
  nll: number;
  argmaxAll: boolean;
}

/**
 * Scores "prefix + ' ' + target" for many (prefix, target) pairs, `batchSize` per forward pass (right-padded: exact
 * for both architectures without a mask). Prefix and target are tokenised separately, so the prefix's tokens are
 * those of the prefix alone, as ROME takes prefix lengths from the unpadded prefix.
 */
export async function scoreTargets(model: LanguageModel, tok: FactTokenizer, pairs: readonly { prefix: string; target: string }[], batchSize = 32): Promise<TargetScore[]> {
  const out: TargetScore[] = [];
  const V = model.config.vocabSize;
  for (let i = 0; i < pairs.length; i += batchSize) {
    const chunk = pairs.slice(i, i + batchSize).map((p) => {
      const pre = tok.encode(p.prefix).ids, tgt = tok.encode(` ${p.target.trimStart()}`).ids;
      return { pre, tgt };
    });
    const T = Math.max(...chunk.map((c) => c.pre.length + c.tgt.length));
    const ids = new Int32Array(chunk.length * T).fill(tok.padId ?? 0);
    const rows: number[] = [], targets: number[] = [];
    chunk.forEach((c, b) => {
      ids.set([...c.pre, ...c.tgt], b * T);
      c.tgt.forEach((t, j) => { rows.push(b * T + c.pre.length - 1 + j); targets.push(t); });
    });
    const input = tensor(ids, [chunk.length, T]), idx = tensor(Int32Array.from(rows), [rows.length]), y = tensor(Int32Array.from(targets), [targets.length]);
    const [ce, top] = tidy(() => {
      const sel = indexSelect(reshape(model.forward(input), [chunk.length * T, V]), 0, idx);
      return [crossEntropy(sel, y, { reduction: 'none' }), argmax(sel, -1)];
    });
    const nll = await ce!.data(), best = await top!.data();
    for (const t of [input, idx, y, ce!, top!]) t.dispose();
    let k = 0;
    for (const c of chunk) {
      let s = 0, all = true;
      for (let j = 0; j < c.tgt.length; j++, k++) { s += nll[k]!; if (best[k] !== targets[k]) all = false; }
      out.push({ nll: s / c.tgt.length, argmaxAll: all });
    }
  }
  return out;
}

/** One case's scores after an edit (ROME's compute_rewrite_quality_counterfact, without generation). */
export interface CaseScores {
  caseId: number;
  /** Per prompt: NLL of the true and of the new object. */
  rewrite: { nllTrue: number; nllNew: number; accNew: boolean };
  paraphrase: { nllTrue: number; nllNew: number; accNew: boolean }[];
  neighbourhood: { nllTrue: number; nllNew: number; accTrue: boolean }[];
}

export async function scoreCase(model: LanguageModel, tok: FactTokenizer, c: CounterFactCase): Promise<CaseScores> {
  const prompts = [c.prompt, ...c.paraphrases, ...c.neighbourhood];
  const s = await scoreTargets(model, tok, prompts.flatMap((p) => [{ prefix: p, target: c.targetTrue }, { prefix: p, target: c.targetNew }]));
  const at = (i: number) => ({ t: s[2 * i]!, n: s[2 * i + 1]! });
  const np = c.paraphrases.length;
  return {
    caseId: c.caseId,
    rewrite: { nllTrue: at(0).t.nll, nllNew: at(0).n.nll, accNew: at(0).n.argmaxAll },
    paraphrase: c.paraphrases.map((_, k) => ({ nllTrue: at(1 + k).t.nll, nllNew: at(1 + k).n.nll, accNew: at(1 + k).n.argmaxAll })),
    neighbourhood: c.neighbourhood.map((_, k) => ({ nllTrue: at(1 + np + k).t.nll, nllNew: at(1 + np + k).n.nll, accTrue: at(1 + np + k).t.argmaxAll })),
  };
}

/** ROME's summary of many cases, ×100 (paper-method.md §5): scores, magnitudes, accuracies and S. */
export interface CounterFactSummary {
  cases: number;
  ES: number; EM: number;
  PS: number; PM: number;
  NS: number; NM: number;
  /** Harmonic mean of ES, PS and NS. */
  S: number;
  rewriteAcc: number; paraphraseAcc: number; neighbourhoodAcc: number;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const p = (nll: number) => Math.exp(-nll);

/** Per-case means first (as ROME's summarize.py), then the mean over cases; cases without a prompt kind skip it. */
export function summarize(scores: readonly CaseScores[]): CounterFactSummary {
  const per = (f: (s: CaseScores) => number[]) => 100 * mean(scores.map(f).filter((x) => x.length).map(mean));
  const ES = per((s) => [s.rewrite.nllTrue > s.rewrite.nllNew ? 1 : 0]);
  const PS = per((s) => s.paraphrase.map((x) => (x.nllTrue > x.nllNew ? 1 : 0)));
  const NS = per((s) => s.neighbourhood.map((x) => (x.nllTrue < x.nllNew ? 1 : 0)));
  const hm = [ES, PS, NS].every((x) => x > 0) ? 3 / (1 / ES + 1 / PS + 1 / NS) : 0;
  return {
    cases: scores.length,
    ES, EM: per((s) => [p(s.rewrite.nllNew) - p(s.rewrite.nllTrue)]),
    PS, PM: per((s) => s.paraphrase.map((x) => p(x.nllNew) - p(x.nllTrue))),
    NS, NM: per((s) => s.neighbourhood.map((x) => p(x.nllTrue) - p(x.nllNew))),
    S: Number.isNaN(ES + PS + NS) ? NaN : hm,
    rewriteAcc: per((s) => [s.rewrite.accNew ? 1 : 0]),
    paraphraseAcc: per((s) => s.paraphrase.map((x) => (x.accNew ? 1 : 0))),
    neighbourhoodAcc: per((s) => s.neighbourhood.map((x) => (x.accTrue ? 1 : 0))),
  };
}
