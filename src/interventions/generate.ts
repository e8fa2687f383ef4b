import type { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/creation.js';
import { FactlabError } from '../tensor/errors.js';
import { Rng } from '../tensor/random.js';
import type { LanguageModel } from '../models/model.js';
import type { MambaConfig } from '../io/config/config.js';
import { pastAfter, type OwnedPast } from '../models/mamba-past.js';
import type { Intervention } from './types.js';
import { run } from './run.js';
import { topK } from './top-k.js';

export interface GenerateOptions {
  /** Tokens to add to each row. */
  maxNewTokens: number;
  /** 1 (default) is greedy decoding; k > 1 samples among the k most likely tokens (ROME's generations use 5). */
  topK?: number;
  temperature?: number;
  seed?: number;
  /** Rows stop at this token (it is kept); generation ends when every row has stopped. */
  eosId?: number;
  /** [B, T] mask of the prompt (1 real, 0 left padding); new tokens are real. */
  attentionMask?: Tensor;
  /** Active at every step; positions are absolute, so a patch of prompt positions stays on the prompt. */
  interventions?: readonly Intervention[];
  /**
   * Recompute the whole sequence at every step. The default does so only where it must (GPT-NeoX, which has no
   * key/value cache here, and runs with interventions); a Mamba run otherwise carries its recurrent state from one
   * token to the next (ForwardOptions.past), which gives the same logits with one token's work per step.
   */
  recompute?: boolean;
}

/**
 * Autoregressive generation from a batch of (left-padded) prompts. Each step recomputes the whole sequence, which
 * keeps interventions exact at every step, except in Mamba without interventions (see `recompute`). Returns the
 * new token ids of each row.
 */
export async function generate(model: LanguageModel, ids: Tensor, opts: GenerateOptions): Promise<number[][]> {
  const { maxNewTokens, topK = 1, temperature = 1 } = opts;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new FactlabError(`generate: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  if (!Number.isInteger(topK) || topK < 1) throw new FactlabError(`generate: topK must be a positive integer, got ${topK}`);
  if (!(temperature > 0)) throw new FactlabError(`generate: temperature must be positive, got ${temperature}`);
  const rng = new Rng(opts.seed ?? 0);
  const [B, T0] = ids.shape as [number, number];
  const rows = Array.from(await ids.data() as Int32Array).reduce<number[][]>((acc, v, i) => { (acc[Math.floor(i / T0)] ??= []).push(v); return acc; }, []);
  const mask = opts.attentionMask ? Array.from(await opts.attentionMask.data()) : null;
  const maskRows = Array.from({ length: B }, (_, r) => (mask ? mask.slice(r * T0, (r + 1) * T0) : new Array<number>(T0).fill(1)));
  const out: number[][] = Array.from({ length: B }, () => []);
  const done = new Array<boolean>(B).fill(false);
  const carry = !opts.recompute && model.config.arch === 'mamba' && !opts.interventions?.length;
  const state = carry ? new CarriedState(model.config as MambaConfig) : null;
  try {
    for (let step = 0; step < maxNewTokens && !done.every(Boolean); step++) {
      const T = T0 + step;
      let logits: Float32Array;
      if (state) {
        logits = await state.step(model, step === 0 ? rows : rows.map((r) => r.slice(-1)), step === 0 && mask ? maskRows : null, ids.backend);
      } else {
        const idsT = tensor(Int32Array.from(rows.flat()), [B, T], { backend: ids.backend });
        const maskT = mask ? tensor(Int32Array.from(maskRows.flat()), [B, T], { backend: ids.backend }) : undefined;
        const r = run(model, idsT, { attentionMask: maskT, interventions: opts.interventions, logits: 'last' });
        logits = await r.logits.data() as Float32Array;
        r.dispose(); idsT.dispose(); maskT?.dispose();
      }
      const V = logits.length / B;
      for (let b = 0; b < B; b++) {
        const next = done[b] ? (opts.eosId ?? 0) : pick(logits.subarray(b * V, (b + 1) * V), topK, temperature, rng);
        rows[b]!.push(next);
        maskRows[b]!.push(1);
        if (done[b]) continue;
        out[b]!.push(next);
        if (next === opts.eosId) done[b] = true;
      }
    }
  } finally {
    state?.dispose();
  }
  return out;
}

/** A Mamba batch's recurrent state between generation steps: each step runs only the tokens it has not seen. */
class CarriedState {
  private past: OwnedPast | null = null;
  private readonly layers: number[];

  constructor(private readonly config: MambaConfig) {
    this.layers = Array.from({ length: config.nLayer }, (_, l) => l);
  }

  /** Runs `tokens` (one row each) after what came before, returns the last position's logits, and keeps the state. */
  async step(model: LanguageModel, tokens: number[][], mask: number[][] | null, backend: Tensor['backend']): Promise<Float32Array> {
    const [B, T] = [tokens.length, tokens[0]!.length];
    const ids = tensor(Int32Array.from(tokens.flat()), [B, T], { backend });
    const maskT = mask ? tensor(Int32Array.from(mask.flat()), [B, T], { backend }) : undefined;
    const r = run(model, ids, {
      attentionMask: maskT, logits: 'last', ...(this.past ? { past: this.past } : {}),
      capture: [{ site: 'mixer.hook_x', layers: this.layers }, { site: 'mixer.hook_ssm_state', layers: this.layers }],
    });
    try {
      const next = pastAfter(this.config, this.layers.map((l) => ({ x: r.captures.get(`blocks.${l}.mixer.hook_x`)!, ssm: r.captures.get(`blocks.${l}.mixer.hook_ssm_state`)! })), this.past ?? undefined);
      this.past?.dispose();
      this.past = next;
      return await r.logits.data() as Float32Array;
    } finally {
      r.dispose(); ids.dispose(); maskT?.dispose();
    }
  }

  dispose(): void {
    this.past?.dispose();
    this.past = null;
  }
}

/** Greedy for k = 1; otherwise a sample from the softmax of the k largest logits. */
function pick(logits: Float32Array, k: number, temperature: number, rng: Rng): number {
  if (k === 1) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const top = topK(logits, k);
  const w = top.map((i) => Math.exp((logits[i]! - logits[top[0]!]!) / temperature));
  let u = rng.uniform() * w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < top.length; i++) { u -= w[i]!; if (u <= 0) return top[i]!; }
  return top[top.length - 1]!;
}
