import { FactlabError } from '../../tensor/errors.js';
import { tensor } from '../../tensor/creation.js';
import { Rng, type RngState } from '../../tensor/random.js';
import { tidy } from '../../tensor/lifetime.js';
import { valueAndGrad } from '../../tensor/autodiff.js';
import { crossEntropy } from '../../tensor/ops/loss/cross-entropy.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { cast } from '../../tensor/ops/shape/cast.js';
import { stack } from '../../tensor/ops/shape/concat.js';
import { AdamW } from '../../tensor/optim/adamw.js';
import { warmupCosine } from '../../tensor/optim/schedule.js';
import { gradClipScale } from '../../tensor/optim/clip.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { LanguageModel } from '../../models/model.js';
import { decays, replaceParam } from './params.js';

/** Training text as one token stream, with the positions a training window may start at (default: any). */
export interface TokenStream {
  tokens: Int32Array;
  starts?: Int32Array;
}

/** What a step reports once its loss has been read (reads lag behind the GPU by up to `readEvery` steps). */
export interface StepReport {
  step: number;
  loss: number;
  lr: number;
  /** The global gradient norm before clipping (NaN without clipping). */
  gradNorm: number;
}

/**
 * Everything besides the parameters that a run needs to continue exactly where it stopped: the steps done, the
 * data order's generator and the optimizer. The moments belong to the optimizer: write them out before returning
 * from onCheckpoint, never dispose them.
 */
export interface TrainState {
  step: number;
  rng: RngState;
  adamT: number;
  /** By parameter name, in the model's parameter order. */
  m: Map<string, Tensor>;
  v: Map<string, Tensor>;
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
  /** Called after each step with the mean loss of its batch (nats per token), in step order. */
  onStep?: (step: number, loss: number, lr: number, report: StepReport) => void;
  /**
   * Losses are read every this many steps (default 16), all in one transfer: a read waits for the GPU to finish,
   * and reading every step would leave it idle while the next step is recorded.
   */
  readEvery?: number;
  /** Continue from a checkpoint (the model must already hold the checkpoint's parameters). */
  resume?: Omit<TrainState, 'm' | 'v'> & { m: readonly Tensor[]; v: readonly Tensor[] };
  /** Call onCheckpoint every this many steps (and at the end, and when stopped). */
  checkpointEvery?: number;
  onCheckpoint?: (state: TrainState) => Promise<void> | void;
  /** Asked after each step (with the steps done so far); true stops the run after a checkpoint, to be resumed. */
  shouldStop?: (stepsDone: number) => boolean;
}

export interface TrainResult {
  /** Losses of the steps this call ran. */
  losses: number[];
  seconds: number;
  /** Steps done in all, counting those before a resume. */
  stepsDone: number;
  /** True when shouldStop ended the run before `steps`. */
  stopped: boolean;
}

/**
 * Random windows of seqLen + 1 tokens from allowed starts (any, when starts is null): inputs are the first seqLen,
 * targets the last seqLen.
 */
function sampleBatch(s: TokenStream, starts: Int32Array | null, last: number, batch: number, seqLen: number, rng: Rng): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(batch * seqLen), y = new Int32Array(batch * seqLen);
  for (let b = 0; b < batch; b++) {
    const at = starts ? starts[rng.int(starts.length)]! : rng.int(last + 1);
    x.set(s.tokens.subarray(at, at + seqLen), b * seqLen);
    y.set(s.tokens.subarray(at + 1, at + seqLen + 1), b * seqLen);
  }
  return { x, y };
}

interface Pending { step: number; lr: number; loss: Tensor; norm: Tensor | null }

function checkOptions(o: TrainOptions): void {
  const { steps, batchSize, seqLen } = o;
  if (![steps, batchSize, seqLen].every((n) => Number.isInteger(n) && n > 0)) throw new FactlabError(`train: steps, batchSize and seqLen must be positive integers, got ${steps}, ${batchSize}, ${seqLen}`);
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new FactlabError(`train: the learning rate must be a positive number, got ${o.lr}`);
  for (const [name, v] of [['readEvery', o.readEvery], ['checkpointEvery', o.checkpointEvery]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new FactlabError(`train: ${name} must be a positive integer, got ${v}`);
  }
  if (o.resume && !(Number.isInteger(o.resume.step) && o.resume.step >= 0 && o.resume.step <= steps)) {
    throw new FactlabError(`train: the checkpoint is at step ${o.resume.step}, outside a run of ${steps} steps`);
  }
}

/**
 * Next-token training of every parameter with AdamW (decay on matrices only), linear warm-up and cosine decay, and
 * global gradient-norm clipping: the recipe small language models are trained with. The model's parameters are
 * replaced step by step (see replaceParam), so the trained model is the one passed in.
 *
 * A step never waits for the backend: the clipping factor is computed on the device, and losses are read in
 * batches. With `resume` the run continues from a checkpoint's optimizer and data order, and ends with the same
 * parameters, bit for bit, as a run that was never interrupted.
 */
export async function trainLanguageModel(model: LanguageModel, data: TokenStream, o: TrainOptions): Promise<TrainResult> {
  const t0 = performance.now();
  checkOptions(o);
  const { steps, batchSize, seqLen } = o;
  const last = data.tokens.length - seqLen - 1;
  const starts = data.starts ? data.starts.filter((s) => s >= 0 && s <= last) : null;
  if (last < 0 || starts?.length === 0) throw new FactlabError(`train: the stream of ${data.tokens.length} tokens has no window of ${seqLen + 1} tokens`);
  const V = model.config.vocabSize;
  for (const t of data.tokens) if (t < 0 || t >= V) throw new FactlabError(`train: token id ${t} is outside the model's vocabulary of ${V}`);
  const names = [...model.params.keys()];
  const params = () => names.map((n) => model.params.get(n)!);
  // Parameters stored as 16-bit floats are trained in float32.
  for (const n of names) { const p = model.params.get(n)!; if (p.dtype !== 'float32') replaceParam(model, n, cast(p, 'float32')).dispose(); }
  const opt = new AdamW(params(), { lr: o.lr, weightDecay: o.weightDecay ?? 0.1, decay: names.map(decays) });
  const schedule = warmupCosine({ peak: o.lr, warmupSteps: o.warmupSteps ?? Math.min(100, Math.floor(steps / 10)), totalSteps: steps, min: o.lr * (o.minLrRatio ?? 0.1) });
  const rng = new Rng(o.seed ?? 0);
  let step = 0;
  if (o.resume) {
    rng.setState(o.resume.rng);
    opt.restore(o.resume.adamT, o.resume.m, o.resume.v);
    step = o.resume.step;
  }
  const readEvery = o.readEvery ?? 16;
  const losses: number[] = [];
  let pending: Pending[] = [];

  const readPending = async () => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const values = tidy(() => stack(batch.flatMap((p) => (p.norm ? [p.loss, p.norm] : [p.loss])).map((t) => reshape(t, [1])), 0));
    let read: Float32Array;
    try {
      read = (await values.data()) as Float32Array;
    } finally {
      values.dispose();
      for (const p of batch) { p.loss.dispose(); p.norm?.dispose(); }
    }
    let at = 0;
    for (const p of batch) {
      const loss = read[at++]!, gradNorm = p.norm ? read[at++]! : NaN;
      if (!Number.isFinite(loss)) throw new FactlabError(`train: the loss is ${loss} at step ${p.step}; lower the learning rate`);
      losses.push(loss);
      o.onStep?.(p.step, loss, p.lr, { step: p.step, loss, lr: p.lr, gradNorm });
    }
  };
  const checkpoint = async () => {
    await readPending();
    if (!o.onCheckpoint) return;
    const { m, v } = opt.moments;
    await o.onCheckpoint({ step, rng: rng.getState(), adamT: opt.t, m: new Map(names.map((n, i) => [n, m[i]!])), v: new Map(names.map((n, i) => [n, v[i]!])) });
  };

  let stopped = false;
  try {
    while (step < steps) {
      const { x, y } = sampleBatch(data, starts, last, batchSize, seqLen, rng);
      const ids = tensor(x, [batchSize, seqLen]), targets = tensor(y, [batchSize * seqLen]);
      const current = params();
      const { value, grads } = valueAndGrad(() => tidy(() => {
        const logits = model.forward(ids);
        return crossEntropy(reshape(logits, [batchSize * seqLen, V]), targets);
      }), current, { allowUnused: true });
      ids.dispose(); targets.dispose();
      const clip = o.clipNorm ? gradClipScale(grads, o.clipNorm) : null;
      const lr = schedule(step);
      const next = opt.step(current, grads, lr, clip?.scale);
      grads.forEach((g) => g.dispose());
      clip?.scale.dispose();
      names.forEach((n, i) => replaceParam(model, n, next[i]!).dispose());
      pending.push({ step, lr, loss: value, norm: clip?.norm ?? null });
      step++;
      stopped = step < steps && (o.shouldStop?.(step) ?? false);
      if (step === steps || stopped || (o.checkpointEvery && step % o.checkpointEvery === 0)) await checkpoint();
      else if (pending.length >= readEvery) await readPending();
      if (stopped) break;
    }
  } finally {
    for (const p of pending) { p.loss.dispose(); p.norm?.dispose(); }
    opt.dispose();
  }
  return { losses, seconds: (performance.now() - t0) / 1000, stepsDone: step, stopped };
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
