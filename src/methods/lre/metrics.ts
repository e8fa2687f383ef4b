import { tensor } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/index.js';
import { run } from '../../interventions/run.js';
import { iclPrompt, type IclPrompt } from './prompts.js';
import { hSite, readHz } from './probe.js';
import type { LreOperator } from './operator.js';
import { mv } from './operator.js';
import { recallAtK, tokenMatchesObject } from './match.js';

/** A test subject run through the model with the estimate's examples as context. */
export interface Probe {
  subject: string;
  object: string;
  prompt: IclPrompt;
  h: Float64Array;
  /** The model's own top-1 next token. */
  modelTop: string;
  /** Whether the model gets this sample right (the only samples LRE is scored on). */
  modelCorrect: boolean;
}

function topK(logits: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    idx.push(i);
    idx.sort((a, b) => logits[b]! - logits[a]!);
    if (idx.length > k) idx.pop();
  }
  return idx;
}

/** Runs each test subject's prompt once: h at the layer, and the model's own prediction. */
export async function probe(model: LanguageModel, tok: FactTokenizer, op: LreOperator, tests: readonly { subject: string; object: string }[]): Promise<Probe[]> {
  const { template, train, layer } = op.estimate;
  const out: Probe[] = [];
  for (const t of tests) {
    const prompt = iclPrompt(tok, template, train, t.subject);
    const input = tensor(Int32Array.from(prompt.ids), [1, prompt.ids.length]);
    const r = run(model, input, { logits: 'last' });
    const [top] = topK(await r.logits.data(), 1);
    r.dispose(); input.dispose();
    const { h, z } = readHz(model, prompt.ids, layer, prompt.subjectLast);
    const hv = Float64Array.from(await h.data());
    h.dispose(); z.dispose();
    const modelTop = tok.decode([top!]);
    out.push({ subject: t.subject, object: t.object, prompt, h: hv, modelTop, modelCorrect: tokenMatchesObject(modelTop, t.object) });
  }
  return out;
}

/** The k most likely tokens when a residual vector z is decoded by the model's final norm and unembedding. */
export async function decodeTop(model: LanguageModel, tok: FactTokenizer, z: ArrayLike<number>, k: number): Promise<string[]> {
  const zt = tensor(Float32Array.from(z), [1, z.length]);
  const logits = model.unembed(zt);
  const ids = topK(await logits.data(), k);
  zt.dispose(); logits.dispose();
  return ids.map((i) => tok.decode([i]));
}

export interface Faithfulness {
  /** recall@1, @2, @3 of LRE's predictions on the samples the model gets right. */
  recall: number[];
  n: number;
  predictions: { subject: string; object: string; top: string[] }[];
}

/** How often decoding LRE(h) gives the model's own (correct) answer. */
export async function faithfulness(model: LanguageModel, tok: FactTokenizer, op: LreOperator, probes: readonly Probe[], opts: { beta: number; rank?: number; k?: number }): Promise<Faithfulness> {
  const K = opts.k ?? 3;
  const scored = probes.filter((p) => p.modelCorrect);
  const predictions = [];
  for (const p of scored) predictions.push({ subject: p.subject, object: p.object, top: await decodeTop(model, tok, op.apply(p.h, opts.beta, opts.rank), K) });
  return { recall: recallAtK(predictions.map((p) => p.top), predictions.map((p) => p.object), K), n: scored.length, predictions };
}

export interface Causality {
  /** Fraction of edits after which the model's top-1 token names the target's object. */
  efficacy: number;
  n: number;
  edits: { subject: string; target: string; targetObject: string; top: string; success: boolean }[];
}

/**
 * LRE's causality (Hernandez et al., L:src/editors.py): to make the model say another sample's object, add
 * Δh = pinv_r(W)·(LRE(h_target) − LRE(h_original)) to h at the subject's last token and rerun the model.
 * The target is drawn (seeded) among the probes with a different object.
 */
export async function causality(model: LanguageModel, tok: FactTokenizer, op: LreOperator, probes: readonly Probe[], opts: { rank?: number; beta: number; seed?: number }): Promise<Causality> {
  const rng = new Rng(opts.seed ?? 0);
  const scored = probes.filter((p) => p.modelCorrect);
  const edits: Causality['edits'] = [];
  const inv = op.inverse(opts.rank);
  for (const p of scored) {
    const others = scored.filter((q) => q.object.trim().toLowerCase() !== p.object.trim().toLowerCase());
    if (others.length === 0) continue;
    const target = others[rng.int(others.length)]!;
    const zo = op.apply(p.h, opts.beta), zt = op.apply(target.h, opts.beta);
    const delta = mv(inv, zt.map((v, i) => v - zo[i]!));
    const input = tensor(Int32Array.from(p.prompt.ids), [1, p.prompt.ids.length]);
    const value = tensor(Float32Array.from(delta), [delta.length]);
    const r = run(model, input, { logits: 'last', interventions: [{ site: hSite(op.estimate.layer), positions: [p.prompt.subjectLast], kind: 'add', value }] });
    const [top] = topK(await r.logits.data(), 1);
    r.dispose(); input.dispose(); value.dispose();
    const word = tok.decode([top!]);
    edits.push({ subject: p.subject, target: target.subject, targetObject: target.object, top: word, success: tokenMatchesObject(word, target.object) });
  }
  return { efficacy: edits.length ? edits.filter((e) => e.success).length / edits.length : NaN, n: edits.length, edits };
}
