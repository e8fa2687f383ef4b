import assert from 'node:assert/strict';
import { Tensor } from '../tensor.js';
import { tensor } from '../creation.js';
import { vjp } from '../autodiff.js';
import { Rng } from '../random.js';
import { fmt, sameShape } from '../shape.js';
import { tidy } from '../lifetime.js';
import type { ForwardCase, GradCase } from './op-spec.js';

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-5, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != expected ${expected.length}`);
  let worst = -1, worstErr = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    const err = Math.abs(a - e);
    if (!(err <= atol + rtol * Math.abs(e)) || Number.isNaN(a) !== Number.isNaN(e)) {
      if (Number.isNaN(err) ? Number.isNaN(a) !== Number.isNaN(e) : err > worstErr) { worst = i; worstErr = err; }
    }
  }
  if (worst >= 0) assert.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (|err| ${worstErr}, atol ${atol}, rtol ${rtol})`);
}

export async function runForwardCase(c: ForwardCase): Promise<void> {
  const r = await c.run();
  // A single tensor is compared with one array of values; a list of tensors with a list of arrays.
  const single = r.actual instanceof Tensor;
  const actual = single ? [r.actual as Tensor] : [...(r.actual as readonly Tensor[])];
  const expected = single ? [r.expected as ArrayLike<number>] : [...(r.expected as readonly ArrayLike<number>[])];
  assert.equal(actual.length, expected.length, `${c.op}/${c.name}: ${actual.length} outputs, ${expected.length} expected`);
  for (let i = 0; i < actual.length; i++) {
    const shape = r.shapes?.[i];
    if (shape) assert.ok(sameShape(actual[i]!.shape, shape), `${c.op}/${c.name}: output ${i} has shape ${fmt(actual[i]!.shape)}, expected ${fmt(shape)}`);
    assertClose(Array.from(await actual[i]!.data()), expected[i]!, r.atol ?? 1e-5, r.rtol ?? 1e-5, `${c.op}/${c.name} output ${i}`);
  }
  for (const t of actual) t.dispose();
}

async function weightedSum(t: Tensor, w: Float64Array): Promise<number> {
  const d = await t.data();
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]! * w[i]!;
  return s;
}

function hashName(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Checks the analytic gradient of sum(f(x) ⊙ R) (R random) against central differences, element by element,
 * with the loss accumulated in float64 and the step measured as the difference of the float32 inputs.
 */
export async function runGradCase(c: GradCase): Promise<void> {
  const rng = new Rng(hashName(c.op + c.name));
  const xs = c.inputs();
  const wrt = c.wrt ?? xs.map((x, i) => (x.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
  const out = tidy(() => c.f(...xs));
  const weights = new Float64Array(out.size).map(() => rng.normal());
  const seed = tensor(Float32Array.from(weights), out.shape, { backend: out.backend });
  out.dispose();
  const v = vjp(() => c.f(...xs), wrt.map((i) => xs[i]!));
  const grads = v.pullback(seed);
  v.value.dispose();
  v.dispose();
  seed.dispose();
  const eps = c.eps ?? 1e-2, atol = c.atol ?? 2e-3, rtol = c.rtol ?? 2e-2;
  for (let w = 0; w < wrt.length; w++) {
    const idx = wrt[w]!;
    const x = xs[idx]!;
    const base = Float32Array.from(await x.data() as Float32Array);
    const analytic = await grads[w]!.data();
    const n = base.length;
    const max = c.maxChecks ?? 48;
    const picks = n <= max ? [...Array(n).keys()] : rng.shuffle([...Array(n).keys()]).slice(0, max);
    for (const e of picks) {
      const evalAt = async (delta: number): Promise<[number, number]> => {
        const pert = Float32Array.from(base);
        pert[e] = base[e]! + delta;
        const xp = tensor(pert, x.shape, { backend: x.backend });
        const args = xs.map((t, j) => (j === idx ? xp : t));
        const y = tidy(() => c.f(...args));
        const s = await weightedSum(y, weights);
        y.dispose(); xp.dispose();
        return [s, pert[e]!];
      };
      const [lp, xp] = await evalAt(eps);
      const [lm, xm] = await evalAt(-eps);
      const numeric = (lp - lm) / (xp - xm);
      const a = analytic[e]!;
      const err = Math.abs(numeric - a);
      assert.ok(err <= atol + rtol * Math.max(Math.abs(numeric), Math.abs(a)),
        `${c.op}/${c.name}: d/d input ${idx}[${e}] analytic ${a}, finite differences ${numeric} (|err| ${err})`);
    }
  }
  for (const g of grads) g.dispose();
  for (const x of xs) x.dispose();
}
