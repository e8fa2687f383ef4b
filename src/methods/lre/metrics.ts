import { tensor } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/index.js';
import { run } from '../../interventions/run.js';
import { iclPrompt, type IclPrompt } from './prompts.js';
import { hSite, hToZ, vectorAt } from './probe.js';
import type { LreOperator } from './operator.js';
import { mv } from './operator.js';
import { recallAtK, tokenMatchesObject } from './match.js';
import { topK } from '../../interventions/top-k.js';

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

/** Runs each test subject's prompt once: h at the layer, and the model's own prediction. */
export async function probe(model: LanguageModel, tok: FactTokenizer, op: LreOperator, tests: readonly { subject: string; object: string }[]): Promise<Probe[]> {
  const { template, train, layer } = op.estimate;
  const out: Probe[] = [];
  for (const t of tests) {
    const prompt = iclPrompt(tok, template, train, t.subject);
    const input = tensor(Int32Array.from(prompt.ids), [1, prompt.ids.length]);
    const r = run(model, input, { capture: [hSite(layer)], logits: 'last' });
    const [top] = topK(await r.logits.data(), 1);
    const h = vectorAt(r.captures.get(hSite(layer))!, prompt.subjectLast);
    const hv = Float64Array.from(await h.data());
    h.dispose(); r.dispose(); input.dispose();
    const modelTop = tok.decode([top!]);
    out.push({ subject: t.subject, object: t.object, prompt, h: hv, modelTop, modelCorrect: tokenMatchesObject(modelTop, t.object) });
  }
  return out;
}

/** Rows per unembedding call when decoding many vectors (each row's logits are a vocabulary of floats). */
const DECODE_ROWS = 256;

/** The k most likely tokens for each residual vector z, decoded by the model's final norm and unembedding. */
export async function decodeTopMany(model: LanguageModel, tok: FactTokenizer, zs: readonly ArrayLike<number>[], k: number): Promise<string[][]> {
  const d = model.config.dModel, out: string[][] = [];
  for (let s = 0; s < zs.length; s += DECODE_ROWS) {
    const rows = zs.slice(s, s + DECODE_ROWS), flat = new Float32Array(rows.length * d);
    rows.forEach((z, i) => flat.set(z, i * d));
    const zt = tensor(flat, [rows.length, d]);
    const logits = model.unembed(zt);
    const v = await logits.data(), V = logits.shape[1]!;
    zt.dispose(); logits.dispose();
    for (let i = 0; i < rows.length; i++) out.push(topK(v, k, i * V, (i + 1) * V).map((id) => tok.decode([id])));
  }
  return out;
}

/** The k most likely tokens when a residual vector z is decoded by the model's final norm and unembedding. */
export async function decodeTop(model: LanguageModel, tok: FactTokenizer, z: ArrayLike<number>, k: number): Promise<string[]> {
  return (await decodeTopMany(model, tok, [z], k))[0]!;
}

export interface Faithfulness {
  /** recall@1, @2, @3 of LRE's predictions on the samples the model gets right. */
  recall: number[];
  n: number;
  predictions: { subject: string; object: string; top: string[] }[];
}

/** How often decoding LRE(h) gives the model's own (correct) answer. */
export async function faithfulness(model: LanguageModel, tok: FactTokenizer, op: LreOperator, probes: readonly Probe[], opts: { beta: number; rank?: number; k?: number }): Promise<Faithfulness> {
  return (await faithfulnessByBeta(model, tok, op, probes, { ...opts, betas: [opts.beta] }))[0]!;
}

/** Faithfulness at each of several β, with one batched decoding of every (β, sample) pair. */
export async function faithfulnessByBeta(model: LanguageModel, tok: FactTokenizer, op: LreOperator, probes: readonly Probe[], opts: { betas: readonly number[]; rank?: number; k?: number }): Promise<Faithfulness[]> {
  const K = opts.k ?? 3;
  const scored = probes.filter((p) => p.modelCorrect);
  const tops = await decodeTopMany(model, tok, opts.betas.flatMap((beta) => scored.map((p) => op.apply(p.h, beta, opts.rank))), K);
  return opts.betas.map((_, bi) => {
    const predictions = scored.map((p, i) => ({ subject: p.subject, object: p.object, top: tops[bi * scored.length + i]! }));
    return { recall: recallAtK(predictions.map((p) => p.top), predictions.map((p) => p.object), K), n: scored.length, predictions };
  });
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
  return (await causalityByRank(model, tok, op, probes, { ...opts, ranks: [opts.rank] }))[0]!;
}

/**
 * Causality at each of several ranks (undefined: full rank). Each sample's target is the same at every rank (the
 * same seeded draw), and its edits at all ranks run as one batch: the layers up to h's are computed once per prompt
 * and the pass starts after h (probe.ts hToZ), `chunk` edits at a time.
 */
export async function causalityByRank(model: LanguageModel, tok: FactTokenizer, op: LreOperator, probes: readonly Probe[], opts: { ranks: readonly (number | undefined)[]; beta: number; seed?: number; chunk?: number }): Promise<Causality[]> {
  const rng = new Rng(opts.seed ?? 0);
  const scored = probes.filter((p) => p.modelCorrect);
  const edits: Causality['edits'][] = opts.ranks.map(() => []);
  const inverses = opts.ranks.map((r) => op.inverse(r));
  const d = model.config.dModel, chunk = Math.max(1, opts.chunk ?? 64);
  for (const p of scored) {
    const others = scored.filter((q) => q.object.trim().toLowerCase() !== p.object.trim().toLowerCase());
    if (others.length === 0) continue;
    const target = others[rng.int(others.length)]!;
    const zo = op.apply(p.h, opts.beta), zt = op.apply(target.h, opts.beta);
    const dz = zt.map((v, i) => v - zo[i]!);
    const f = hToZ(model, p.prompt.ids, op.estimate.layer, p.prompt.subjectLast);
    try {
      for (let s = 0; s < inverses.length; s += chunk) {
        const invs = inverses.slice(s, s + chunk), hs = new Float32Array(invs.length * d);
        invs.forEach((inv, i) => { const delta = mv(inv, dz); for (let j = 0; j < d; j++) hs[i * d + j] = p.h[j]! + delta[j]!; });
        const hBatch = tensor(hs, [invs.length, d]);
        const z = f(hBatch);
        hBatch.dispose();
        const zv = await z.data();
        z.dispose();
        const tops = await decodeTopMany(model, tok, invs.map((_, i) => zv.subarray(i * d, (i + 1) * d)), 1);
        tops.forEach(([word], i) => edits[s + i]!.push({ subject: p.subject, target: target.subject, targetObject: target.object, top: word!, success: tokenMatchesObject(word!, target.object) }));
      }
    } finally {
      f.dispose();
    }
  }
  return edits.map((e) => ({ efficacy: e.length ? e.filter((x) => x.success).length / e.length : NaN, n: e.length, edits: e }));
}
