import type { Tensor } from '../tensor.js';
import { FactlabError } from '../errors.js';
import { keep } from '../lifetime.js';
import { ones, zeros } from '../creation.js';
import { adamwStep } from '../ops/optim/adamw-step.js';
import { fmt, sameShape } from '../shape.js';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** Decoupled weight decay (Loshchilov & Hutter): p ← p·(1 − lr·wd) before the Adam step. 0 gives plain Adam. */
  weightDecay?: number;
  /** Per parameter, whether weight decay applies (default: all); language models usually exempt norms and biases. */
  decay?: readonly boolean[];
}

/**
 * AdamW with PyTorch's arithmetic (torch.optim.AdamW, and torch.optim.Adam when weightDecay is 0), on engine
 * tensors so that it runs on whichever backend holds the parameters. Parameters are immutable tensors here, so
 * `step` returns new ones; the caller puts them where the old ones were and disposes the old ones.
 */
export class AdamW {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  private readonly m: Tensor[];
  private readonly v: Tensor[];
  private readonly decay: readonly boolean[];
  private shapes: readonly (readonly number[])[];
  /** Steps taken so far (bias correction uses it). */
  t = 0;

  constructor(params: readonly Tensor[], opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    const [b1, b2] = this.betas;
    if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new FactlabError(`AdamW: betas must lie in [0, 1), got [${b1}, ${b2}]`);
    if (!(this.lr >= 0) || !(this.eps > 0) || !(this.weightDecay >= 0)) throw new FactlabError(`AdamW: lr ${this.lr}, eps ${this.eps} and weightDecay ${this.weightDecay} must be ≥ 0 (eps > 0)`);
    if (opts.decay && opts.decay.length !== params.length) throw new FactlabError(`AdamW: decay has ${opts.decay.length} flags for ${params.length} parameters`);
    this.decay = opts.decay ?? params.map(() => true);
    this.shapes = params.map((p) => [...p.shape]);
    this.m = params.map((p) => keep(zeros(p.shape, { backend: p.backend })));
    this.v = params.map((p) => keep(zeros(p.shape, { backend: p.backend })));
  }

  /**
   * One update; `lr` overrides the constructor's (a schedule passes it each step). `gradScale`, a one-element tensor
   * on the parameters' backend, multiplies every gradient first (the clipping factor, kept on the device). Returns
   * the new parameters.
   */
  step(params: readonly Tensor[], grads: readonly Tensor[], lr = this.lr, gradScale?: Tensor): Tensor[] {
    if (params.length !== this.m.length || grads.length !== this.m.length) {
      throw new FactlabError(`AdamW.step: ${params.length} parameters and ${grads.length} gradients for an optimizer of ${this.m.length}`);
    }
    params.forEach((p, i) => {
      if (!sameShape(p.shape, this.shapes[i]!) || !sameShape(grads[i]!.shape, p.shape)) {
        throw new FactlabError(`AdamW.step: parameter ${i} ${fmt(p.shape)} or its gradient ${fmt(grads[i]!.shape)} differs from the ${fmt(this.shapes[i]!)} it was built with`);
      }
    });
    this.t++;
    const [b1, b2] = this.betas;
    const bc1 = 1 - b1 ** this.t, bc2 = 1 - b2 ** this.t;
    const scale = gradScale ?? (params.length ? ones([1], { backend: params[0]!.backend }) : null);
    try {
      return params.map((p, i) => {
        // torch: denom = sqrt(v)/sqrt(bc2) + eps, step = lr/bc1 · m/denom, after p ← p·(1 − lr·wd).
        const [next, m, v] = adamwStep(p, grads[i]!, this.m[i]!, this.v[i]!, scale!, {
          b1, b2, eps: this.eps, stepSize: lr / bc1, sqrtBc2: Math.sqrt(bc2), decay: this.weightDecay > 0 && this.decay[i] ? 1 - lr * this.weightDecay : 1,
        });
        this.m[i]!.dispose(); this.v[i]!.dispose();
        this.m[i] = keep(m); this.v[i] = keep(v);
        return keep(next);
      });
    } finally {
      if (scale && scale !== gradScale) scale.dispose();
    }
  }

  /** The first and second moments, for checkpoints (the optimizer owns them: read them, do not dispose them). */
  get moments(): { m: readonly Tensor[]; v: readonly Tensor[] } {
    return { m: this.m, v: this.v };
  }

  /**
   * Continues from a checkpoint: the step count and moments saved from an optimizer of the same parameters. The
   * optimizer takes ownership of the tensors and disposes the moments it held.
   */
  restore(t: number, m: readonly Tensor[], v: readonly Tensor[]): void {
    if (!Number.isInteger(t) || t < 0) throw new FactlabError(`AdamW.restore: the step count must be an integer ≥ 0, got ${t}`);
    if (m.length !== this.m.length || v.length !== this.v.length) throw new FactlabError(`AdamW.restore: ${m.length} and ${v.length} moments for an optimizer of ${this.m.length} parameters`);
    [...m, ...v].forEach((x, i) => {
      const shape = this.shapes[i % this.m.length]!;
      if (!sameShape(x.shape, shape) || x.dtype !== 'float32') throw new FactlabError(`AdamW.restore: moment ${i} is ${x.dtype}${fmt(x.shape)}, the parameter float32${fmt(shape)}`);
    });
    for (const x of [...this.m, ...this.v]) x.dispose();
    this.m.splice(0, this.m.length, ...m.map((x) => keep(x)));
    this.v.splice(0, this.v.length, ...v.map((x) => keep(x)));
    this.t = t;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
