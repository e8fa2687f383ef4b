import { tensor } from '../../tensor/creation.js';
import { tidy } from '../../tensor/lifetime.js';
import { Rng } from '../../tensor/random.js';
import { argmax } from '../../tensor/ops/reduce/max.js';
import { crossEntropy } from '../../tensor/ops/loss/cross-entropy.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import type { LanguageModel } from '../../models/model.js';
import type { Catalogue } from './catalogue.js';
import type { Split } from './split.js';
import { factPrompts, type FactPrompt } from './statements.js';

export type Condition = 'trainTemplates' | 'heldOutTemplates' | 'heldOutFacts';
export const CONDITIONS: readonly Condition[] = ['trainTemplates', 'heldOutTemplates', 'heldOutFacts'];

/** Prompts scored, and how many the model completes right: first token, and the whole object greedily. */
export interface Score { n: number; firstToken: number; object: number }

export interface RelationAccuracy {
  relation: string;
  source: string;
  facts: number;
  /** Facts trained on, under the templates they were trained with: memory. */
  trainTemplates: Score;
  /** Facts trained on, under templates held out of training for every fact: recall beyond the trained string. */
  heldOutTemplates: Score;
  /** Facts never trained on: what guessing from the relation alone gets. */
  heldOutFacts: Score;
}

export interface FactEvaluation {
  relations: RelationAccuracy[];
  overall: Record<Condition, Score>;
  /** Prompts per relation and condition at most (a seeded sample). */
  perRelation: number;
}

/** A prompt and the token ids of the object it should be completed with. */
export interface ScoredPrompt { prompt: number[]; target: number[] }
interface Item extends ScoredPrompt { relation: string; condition: Condition }

/**
 * Scores a batch: greedy next token at the prompt's end against the object's first token, and the whole object
 * (each of its tokens is the argmax after the prompt and the object's earlier tokens: what greedy decoding gives).
 * Rows are left-padded and masked, so each is scored as if it ran alone.
 */
export async function scoreBatch(model: LanguageModel, items: ScoredPrompt[], padId: number): Promise<{ first: boolean; object: boolean }[]> {
  const seqs = items.map((it) => [...it.prompt, ...it.target.slice(0, -1)]);
  const T = Math.max(...seqs.map((s) => s.length));
  const ids = new Int32Array(items.length * T).fill(padId), mask = new Int32Array(items.length * T);
  seqs.forEach((s, b) => { ids.set(s, b * T + T - s.length); mask.fill(1, b * T + T - s.length, (b + 1) * T); });
  const idsT = tensor(ids, [items.length, T]), maskT = tensor(mask, [items.length, T]);
  const top = tidy(() => argmax(model.forward(idsT, { attentionMask: maskT }), -1));
  const pred = await top.data();
  idsT.dispose(); maskT.dispose(); top.dispose();
  return items.map((it, b) => {
    // The row ends with the prompt and all but the object's last token; the object's first token is predicted at the
    // prompt's last position, K tokens from the row's end.
    const firstAt = b * T + T - it.target.length;
    const ok = it.target.map((t, j) => pred[firstAt + j] === t);
    return { first: ok[0]!, object: ok.every(Boolean) };
  });
}

/**
 * Per-relation accuracy of a model on the catalogue's facts under the split: facts trained on, under trained and
 * under held-out templates, and facts held out. At most `perRelation` prompts per relation and condition are
 * scored (a sample fixed by the seed), so that the evaluation takes about a minute on a CPU.
 */
export async function evaluateFacts(model: LanguageModel, tok: FactTokenizer, c: Catalogue, split: Split, o: { perRelation?: number; seed?: number; batchSize?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<FactEvaluation> {
  const perRelation = o.perRelation ?? 100, batchSize = o.batchSize ?? 64;
  const heldOutFacts = new Set(split.heldOutFacts);
  const groups = new Map<string, FactPrompt[]>();
  for (const p of factPrompts(c, split)) {
    const f = c.facts[p.fact]!;
    const condition: Condition | null = heldOutFacts.has(f.key) ? (p.heldOutTemplate ? null : 'heldOutFacts') : p.heldOutTemplate ? 'heldOutTemplates' : 'trainTemplates';
    if (!condition) continue;
    const key = `${f.relation}\t${condition}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const rng = new Rng(o.seed ?? 0);
  const items: Item[] = [];
  for (const [key, prompts] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const [relation, condition] = key.split('\t') as [string, Condition];
    for (const p of rng.shuffle([...prompts]).slice(0, perRelation)) {
      items.push({ relation, condition, prompt: tok.encode(p.prompt).ids, target: tok.encode(` ${c.facts[p.fact]!.object}`).ids });
    }
  }
  // Similar lengths share a batch, so little of it is padding.
  const order = items.map((_, i) => i).sort((a, b) => items[a]!.prompt.length + items[a]!.target.length - items[b]!.prompt.length - items[b]!.target.length);
  const results = new Array<{ first: boolean; object: boolean }>(items.length);
  for (let i = 0; i < order.length; i += batchSize) {
    const idx = order.slice(i, i + batchSize);
    const r = await scoreBatch(model, idx.map((k) => items[k]!), tok.padId ?? tok.eosId ?? 0);
    idx.forEach((k, j) => { results[k] = r[j]!; });
    o.onProgress?.(Math.min(i + batchSize, order.length), order.length);
  }
  const empty = (): Score => ({ n: 0, firstToken: 0, object: 0 });
  const byRelation = new Map<string, RelationAccuracy>();
  const overall = { trainTemplates: empty(), heldOutTemplates: empty(), heldOutFacts: empty() };
  for (const r of c.relations) {
    byRelation.set(r.id, { relation: r.id, source: r.source, facts: c.facts.filter((f) => f.relation === r.id).length, trainTemplates: empty(), heldOutTemplates: empty(), heldOutFacts: empty() });
  }
  items.forEach((it, k) => {
    for (const s of [byRelation.get(it.relation)![it.condition], overall[it.condition]]) {
      s.n++;
      if (results[k]!.first) s.firstToken++;
      if (results[k]!.object) s.object++;
    }
  });
  return { relations: [...byRelation.values()], overall, perRelation };
}

/** Mean next-token loss (nats) over windows of `seqLen` tokens, `batchSize` windows per forward pass. */
export async function streamLoss(model: LanguageModel, tokens: ArrayLike<number>, seqLen = 128, batchSize = 16): Promise<number> {
  const windows = Math.floor((tokens.length - 1) / seqLen);
  let total = 0;
  for (let w = 0; w < windows; w += batchSize) {
    const B = Math.min(batchSize, windows - w);
    const x = new Int32Array(B * seqLen), y = new Int32Array(B * seqLen);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < seqLen; t++) { x[b * seqLen + t] = tokens[(w + b) * seqLen + t]!; y[b * seqLen + t] = tokens[(w + b) * seqLen + t + 1]!; }
    }
    const xt = tensor(x, [B, seqLen]), yt = tensor(y, [B * seqLen]);
    const l = tidy(() => crossEntropy(reshape(model.forward(xt), [B * seqLen, model.config.vocabSize]), yt, { reduction: 'sum' }));
    total += await l.item();
    xt.dispose(); yt.dispose(); l.dispose();
  }
  return total / (windows * seqLen);
}
