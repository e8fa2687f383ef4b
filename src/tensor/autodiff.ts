import { Tensor } from './tensor.js';
import { keep, tidy } from './lifetime.js';
import { FactlabError, opError } from './errors.js';
import { fmt, sameShape } from './shape.js';
import type { OpDef } from './op.js';
import { getOp, runOp } from './op.js';
import { full } from './creation.js';

/**
 * Reverse-mode autodiff with a tape. Nothing is recorded unless a gradient is being taken (`valueAndGrad`,
 * `vjp`, `jacobian`), so plain inference pays nothing. While a tape is open, an op whose input is tracked records
 * a node holding shadow handles of its inputs and outputs: shadows share storage, so the saved activations
 * survive an inner `tidy` and are released when the tape is.
 */
interface Node {
  def: OpDef<unknown>;
  attrs: unknown;
  inputs: Tensor[];
  outputs: Tensor[];
  inputIds: number[];
  outputIds: number[];
}

class Tape {
  readonly nodes: Node[] = [];
  readonly tracked = new Set<number>();
  release(): void {
    for (const n of this.nodes) for (const t of [...n.inputs, ...n.outputs]) t.dispose();
    this.nodes.length = 0;
  }
}

const tapes: Tape[] = [];
let paused = 0;

function shadow(t: Tensor): Tensor {
  return keep(new Tensor(t.shape, t.dtype, t.storage, t.offset));
}

export function recordIfTracked(def: OpDef<unknown>, inputs: readonly Tensor[], outputs: readonly Tensor[], attrs: unknown): void {
  if (tapes.length === 0 || paused > 0) return;
  for (const tape of tapes) {
    if (!inputs.some((t) => tape.tracked.has(t.id))) continue;
    if (def.nondifferentiable) continue;
    if (!def.backward) throw opError(def.name, 'has no gradient, but a gradient flows through it', inputs);
    tape.nodes.push({
      def, attrs,
      inputs: inputs.map(shadow), outputs: outputs.map(shadow),
      inputIds: inputs.map((t) => t.id), outputIds: outputs.map((t) => t.id),
    });
    for (const o of outputs) tape.tracked.add(o.id);
  }
}

/** Whether ops are being recorded for a gradient now (a tape is open and not paused by `noGrad`). */
export function taping(): boolean {
  return tapes.length > 0 && paused === 0;
}

/** Runs `fn` without recording anything on open tapes (inference inside a gradient computation). */
export function noGrad<T>(fn: () => T): T {
  paused++;
  try { return fn(); } finally { paused--; }
}

function add(a: Tensor, b: Tensor): Tensor {
  return runOp(getOp('add') as OpDef<unknown>, [a, b], {})[0]!;
}

/**
 * Back-propagates seeds through the tape and returns the gradient of each wrt tensor (null if it took no part).
 * Memory stays at the frontier of the backward pass: each node's backward runs in its own scope (its temporaries
 * go at once), and a gradient is freed as soon as nothing needs it (its node is done, or it was summed into
 * another), unless it is a seed, a tensor saved on the tape, or still held for another id.
 */
function backprop(tape: Tape, seeds: Map<number, Tensor>, wrt: readonly Tensor[]): (Tensor | null)[] {
  const grads = new Map<number, Tensor>(seeds);
  const wanted = new Set(wrt.map((t) => t.id));
  const kept = new Set<Tensor>([...seeds.values(), ...tape.nodes.flatMap((n) => [...n.inputs, ...n.outputs])]);
  const release = (t: Tensor) => {
    if (kept.has(t)) return;
    for (const v of grads.values()) if (v === t) return;
    t.dispose();
  };
  paused++;
  try {
    for (let i = tape.nodes.length - 1; i >= 0; i--) {
      const node = tape.nodes[i]!;
      const gOut = node.outputIds.map((id) => grads.get(id) ?? null);
      if (gOut.every((g) => g === null)) continue;
      const needs = node.inputIds.map((id) => tape.tracked.has(id));
      const gIn = tidy(() => node.def.backward!(gOut, { inputs: node.inputs, outputs: node.outputs, attrs: node.attrs, needs }));
      for (let j = 0; j < node.inputIds.length; j++) {
        const id = node.inputIds[j]!;
        const g = gIn[j];
        if (!g) continue;
        if (!tape.tracked.has(id)) { if (!gIn.some((o, k) => k > j && o === g)) release(g); continue; }
        const x = node.inputs[j]!;
        if (!sameShape(g.shape, x.shape)) {
          throw new FactlabError(`internal: ${node.def.name} backward gave a gradient of shape ${fmt(g.shape)} for input #${j} of shape ${fmt(x.shape)}`);
        }
        const prev = grads.get(id);
        if (!prev) { grads.set(id, g); continue; }
        grads.set(id, add(prev, g));
        release(prev);
        if (!gIn.some((o, k) => k > j && o === g)) release(g);
      }
      // Gradients of this node's outputs are not needed again (an output is produced by exactly one node).
      for (const id of node.outputIds) {
        const g = grads.get(id);
        if (!g || wanted.has(id)) continue;
        grads.delete(id);
        release(g);
      }
    }
  } finally {
    paused--;
  }
  return wrt.map((t) => grads.get(t.id) ?? null);
}

export interface GradOptions {
  /** Give zeros instead of an error for a wrt tensor that took no part in computing the output. */
  allowUnused?: boolean;
}

function checkWrt(fnName: string, wrt: readonly Tensor[]): void {
  wrt.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new FactlabError(`${fnName}: wrt[${i}] is not a tensor`);
    t.assertAlive(fnName);
    if (t.dtype !== 'float32') throw new FactlabError(`${fnName}: wrt[${i}] ${t.describe()} is not float32; gradients exist only for float32 tensors`);
  });
}

function finish(fnName: string, raw: (Tensor | null)[], wrt: readonly Tensor[], opts: GradOptions): Tensor[] {
  return raw.map((g, i) => {
    if (g) return g;
    if (!opts.allowUnused) throw new FactlabError(`${fnName}: wrt[${i}] ${wrt[i]!.describe()} took no part in computing the output, so it has no gradient`);
    return full(wrt[i]!.shape, 0, { backend: wrt[i]!.backend });
  });
}

export interface Vjp {
  /** The function's output (tracked on the tape while the Vjp is open). */
  readonly value: Tensor;
  /** Gradients of sum(value * seed) with respect to each wrt tensor. Can be called several times. */
  pullback(seed: Tensor): Tensor[];
  /** Releases the saved activations. */
  dispose(): void;
}

/**
 * Records `f` once and returns its value and a pullback for vector-Jacobian products. The pullback can be
 * called with several seeds without re-running `f` (batched rows of a Jacobian, for instance).
 */
export function vjp(f: () => Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): Vjp {
  checkWrt('vjp', wrt);
  const tape = new Tape();
  for (const t of wrt) tape.tracked.add(t.id);
  tapes.push(tape);
  let value: Tensor;
  try {
    value = f();
    if (!(value instanceof Tensor)) throw new FactlabError('vjp: the function must return a tensor');
  } catch (e) {
    tapes.splice(tapes.indexOf(tape), 1);
    tape.release();
    throw e;
  }
  tapes.splice(tapes.indexOf(tape), 1);
  const out = value;
  return {
    value: out,
    pullback(seed: Tensor): Tensor[] {
      if (!sameShape(seed.shape, out.shape)) throw new FactlabError(`vjp: the seed has shape ${fmt(seed.shape)} but the output has shape ${fmt(out.shape)}`);
      return tidy(() => finish('vjp', backprop(tape, new Map([[out.id, seed]]), wrt), wrt, opts));
    },
    dispose(): void { tape.release(); },
  };
}

/** The value of a scalar-valued `f` and its gradient with respect to each tensor of `wrt`. */
export function valueAndGrad(f: () => Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): { value: Tensor; grads: Tensor[] } {
  const v = vjp(f, wrt, opts);
  try {
    if (v.value.size !== 1) throw new FactlabError(`valueAndGrad: the function must return one number, got shape ${fmt(v.value.shape)}; use vjp or jacobian for vector outputs`);
    const grads = tidy(() => {
      return v.pullback(full(v.value.shape, 1, { backend: v.value.backend }));
    });
    return { value: v.value, grads };
  } finally {
    v.dispose();
  }
}
