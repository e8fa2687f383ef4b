import { FactlabError } from '../../tensor/errors.js';
import { tensor } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import { tidy } from '../../tensor/lifetime.js';
import { valueAndGrad } from '../../tensor/autodiff.js';
import { crossEntropy } from '../../tensor/ops/loss/cross-entropy.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { cast } from '../../tensor/ops/shape/cast.js';
import { AdamW } from '../../tensor/optim/adamw.js';
import { warmupCosine } from '../../tensor/optim/schedule.js';
import { clipGradNorm } from '../../tensor/optim/clip.js';
import type { LanguageModel } from '../../models/model.js';
import { decays, replaceParam } from './params.js';

/** Training text as one token stream, with the positions a training window may start at (default: any). */
export interface TokenStream {
  tokens: Int32Array;
  starts?: Int32Array;
}

export interface TrainOptions {
  steps: number;
  batchSize: number;
  /** Tokens predicted per window (the window holds one more). */
  seqLen: number;
  lr: number;
  warmupSteps?: number;
  /** Where the cosine ends, as a fraction of lr (default 0.1). */
  minLrRatio?: number;
  weightDecay?: number;
  clipNorm?: number;
  seed?: number;
  /** Called after each step with the mean loss of its batch (nats per token). */
  onStep?: (step: number, loss: number, lr: number) => void;
}

export interface TrainResult {
  losses: number[];
  seconds: number;
}

/** Random windows of seqLen + 1 tokens from allowed starts: inputs are the first seqLen, targets the last seqLen. */
function sampleBatch(s: TokenStream, starts: Int32Array, batch: number, seqLen: number, rng: Rng): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(batch * seqLen), y = new Int32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    const at = starts[rng.int(starts.length)]!;
    x.set(s.tokens.subarray(at, at + seqLen), b * seqLen);
    y.set(s.tokens.subarray(at + 1, at + seqLen + 1), b * seqLen);
  }
  return { x, y };
}

/**
 * Next-token training of every parameter with AdamW (decay on matrices only), linear warm-up and cosine decay, and
 * global gradient-norm clipping: the recipe small language models are trained with. The model's parameters are
 * replaced step by step (see replaceParam), so the trained model is the one passed in.
 */
export async function trainLanguageModel(model: LanguageModel, data: TokenStream, o: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  const { steps, batchSize, seqLen } = o;
  if (![steps, batchSize, seqLen].every((n) => Number.isInteger(n) && n > 0)) throw new FactlabError(`train: steps, batchSize and seqLen must be positive integers, got ${steps}, ${batchSize}, ${seqLen}`);
  const last = data.tokens.length - seqLen - 1;
  const starts = (data.starts ?? Int32Array.from({ length: Math.max(0, last + 1) }, (_, i) => i)).filter((s) => s >= 0 && s <= last);
  if (starts.length === 0) throw new FactlabError(`train: the stream of ${data.tokens.length} tokens has no window of ${seqLen + 1} tokens`);
  const V = model.config.vocabSize;
  for (const t of data.tokens) if (t < 0 || t >= V) throw new FactlabError(`train: token id ${t} is outside the model's vocabulary of ${V}`);
  const names = [...model.params.keys()];
  const params = () => names.map((n) => model.params.get(n)!);
  // Parameters stored as 16-bit floats are trained in float32.
  for (const n of names) { const p = model.params.get(n)!; if (p.dtype !== 'float32') replaceParam(model, n, cast(p, 'float32')).dispose(); }
  const opt = new AdamW(params(), { lr: o.lr, weightDecay: o.weightDecay ?? 0.1, decay: names.map(decays) });
  const schedule = warmupCosine({ peak: o.lr, warmupSteps: o.warmupSteps ?? Math.min(100, Math.floor(steps / 10)), totalSteps: steps, min: o.lr * (o.minLrRatio ?? 0.1) });
  const rng = new Rng(o.seed ?? 0);
  const losses: number[] = [];
  try {
    for (let step = 0; step < steps; step++) {
      const { x, y } = sampleBatch(data, starts, batchSize, seqLen, rng);
      const ids = tensor(x, [batchSize, seqLen]), targets = tensor(y, [batchSize * seqLen]);
      const current = params();
      const { value, grads } = valueAndGrad(() => tidy(() => {
        const logits = model.forward(ids);
        return crossEntropy(reshape(logits, [batchSize * seqLen, V]), targets);
      }), current, { allowUnused: true });
      const loss = await value.item();
      value.dispose(); ids.dispose(); targets.dispose();
      if (!Number.isFinite(loss)) { grads.forEach((g) => g.dispose()); throw new FactlabError(`train: the loss is ${loss} at step ${step}; lower the learning rate`); }
      const clipped = o.clipNorm ? await clipGradNorm(grads, o.clipNorm) : { grads, clipped: false };
      const lr = schedule(step);
      const next = opt.step(current, clipped.grads, lr);
      grads.forEach((g) => g.dispose());
      if (clipped.clipped) clipped.grads.forEach((g) => g.dispose());
      names.forEach((n, i) => replaceParam(model, n, next[i]!).dispose());
      losses.push(loss);
      o.onStep?.(step, loss, lr);
    }
  } finally {
    opt.dispose();
  }
  return { losses, seconds: (performance.now() - t0) / 1000 };
}

/** Mean next-token loss over whole windows of a stream (no gradient), for checking a trained model. */
export async function evaluateLoss(model: LanguageModel, tokens: Int32Array, seqLen: number): Promise<number> {
  let total = 0, n = 0;
  for (let at = 0; at + seqLen + 1 <= tokens.length; at += seqLen) {
    const ids = tensor(tokens.slice(at, at + seqLen), [1, seqLen]), y = tensor(tokens.slice(at + 1, at + seqLen + 1), [seqLen]);
    const l = tidy(() => crossEntropy(reshape(model.forward(ids), [seqLen, model.config.vocabSize]), y, { reduction: 'sum' }));
    total += await l.item(); n += seqLen;
    l.dispose(); ids.dispose(); y.dispose();
  }
  return total / n;
}

