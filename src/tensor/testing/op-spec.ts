import type { Tensor } from '../tensor.js';
import type { Shape } from '../shape.js';

/**
 * The one test of an op, run unchanged on every backend (`ops.test.ts`). Forward cases compare with an
 * independent reference (hand-computed values or a naive float64 loop); gradient cases compare the op's backward
 * with central finite differences; error cases check the message a user gets.
 */
export interface ForwardResult {
  actual: Tensor | readonly Tensor[];
  expected: ArrayLike<number> | readonly ArrayLike<number>[];
  /** Expected shapes, one per actual tensor. */
  shapes?: readonly Shape[];
  atol?: number;
  rtol?: number;
}

export interface ForwardCase {
  op: string;
  name: string;
  run(): ForwardResult | Promise<ForwardResult>;
}

export interface GradCase {
  op: string;
  name: string;
  /** Fresh inputs (float32 ones listed in `wrt` are differentiated). */
  inputs(): Tensor[];
  /** Indices into inputs to differentiate; default all float32 inputs. */
  wrt?: number[];
  f(...xs: Tensor[]): Tensor;
  /** Internal ops whose kernels this case's backward exercises. */
  covers?: string[];
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Elements checked per input at most (sampled with a fixed seed). */
  maxChecks?: number;
}

export interface ErrorCase {
  op: string;
  name: string;
  run(): unknown;
  message: RegExp;
}

export interface OpSpec {
  forward: ForwardCase[];
  grad: GradCase[];
  errors?: ErrorCase[];
}
