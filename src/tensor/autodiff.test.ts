import { test } from 'node:test';
import assert from 'node:assert/strict';
import './ops/index.js';
import { noGrad, valueAndGrad, vjp } from './autodiff.js';
import { jacobian } from './jacobian.js';
import { liveTensors, tidy } from './lifetime.js';
import { tensor } from './creation.js';
import { add, mul, sub } from './ops/elementwise/binary.js';
import { sumTo } from './ops/shape/broadcast.js';
import { cpuBackend, cpuF32 } from './backends/cpu/cpu-backend.js';
import { defineOp, runOp } from './op.js';
import { linear } from './ops/linear/matmul.js';
import type { Tensor } from './tensor.js';
import { assertClose } from './testing/check.js';

const sum = (t: ReturnType<typeof tensor>) => sumTo(t, []);

test('gradient of a composed function equals the hand-derived one, and a reused input accumulates', async () => {
  const x = tensor([1, 2, 3]), w = tensor([0.5, -1, 2]);
  // f = Σ (x·w)·x + x  →  ∂f/∂x = 2·w·x + 1, ∂f/∂w = x²
  const { value, grads: [gx, gw] } = valueAndGrad(() => sum(add(mul(mul(x, w), x), x)), [x, w]);
  assert.equal(await value.item(), 0.5 - 4 + 18 + 6);
  assert.deepEqual(Array.from(await gx!.data()), [2, -3, 13]);
  assert.deepEqual(Array.from(await gw!.data()), [1, 4, 9]);
});

test('activations saved on the tape survive an inner tidy', async () => {
  const x = tensor([1, 2]);
  const { grads: [g] } = valueAndGrad(() => {
    const y = tidy(() => mul(mul(x, x), 1)); // intermediates of the inner scope are disposed here
    return sum(mul(y, x));                    // Σ x³ → 3x²
  }, [x]);
  assert.deepEqual(Array.from(await g!.data()), [3, 12]);
});

test('a tensor that took no part is an error naming it, or zeros with allowUnused', async () => {
  const x = tensor([1, 2]), unused = tensor([[1, 2]]);
  assert.throws(() => valueAndGrad(() => sum(x), [x, unused]), /valueAndGrad|vjp: wrt\[1\] #\d+ float32\[1,2\] took no part in computing the output/);
  const { grads } = valueAndGrad(() => sum(x), [x, unused], { allowUnused: true });
  assert.deepEqual(Array.from(await grads[1]!.data()), [0, 0]);
});

test('valueAndGrad requires a scalar; vjp pulls back any seed, several times', async () => {
  const x = tensor([1, 2, 3]);
  assert.throws(() => valueAndGrad(() => mul(x, 2), [x]), /must return one number, got shape \[3\]/);
  const v = vjp(() => mul(mul(x, x), 3), [x]);
  const a = v.pullback(tensor([1, 0, 0]))[0]!;
  const b = v.pullback(tensor([0, 1, 1]))[0]!;
  assert.deepEqual(Array.from(await a.data()), [6, 0, 0]);
  assert.deepEqual(Array.from(await b.data()), [0, 12, 18]);
  assert.throws(() => v.pullback(tensor([1, 2])), /seed has shape \[2\] but the output has shape \[3\]/);
  v.dispose();
});

test('noGrad stops the gradient inside a recorded function', async () => {
  const x = tensor([2, 3]);
  const { grads: [g] } = valueAndGrad(() => sum(mul(x, noGrad(() => mul(x, 1)))), [x]); // d/dx Σ x·c = c
  assert.deepEqual(Array.from(await g!.data()), [2, 3]);
});

test('gradients flow through a replaced activation (the basis of patching under autodiff)', async () => {
  const x = tensor([1, 2, 3]);
  const patched = tensor([10, 20, 30]);
  const { grads: [gx, gp] } = valueAndGrad(() => {
    const h = mul(x, x);
    // replace element 1 of h by patched[1], keep the rest: h·(1−m) + p·m
    const m = tensor([0, 1, 0]);
    return sum(mul(add(mul(h, sub(1, m)), mul(patched, m)), tensor([1, 1, 1])));
  }, [x, patched]);
  assert.deepEqual(Array.from(await gx!.data()), [2, 0, 6]);
  assert.deepEqual(Array.from(await gp!.data()), [0, 1, 0]);
});

test('jacobian of a row-wise function matches its analytic form, in chunks', async () => {
  const w = tensor([1, -2, 3, 0.5]);
  const x = tensor([0.3, -0.7, 1.1, 2]);
  // f(x) = x² ⊙ w (row-wise)  →  J = diag(2 x w)
  const f = (xb: ReturnType<typeof tensor>) => mul(mul(xb, xb), w);
  for (const chunk of [1, 3, 4, 64]) {
    const J = jacobian(f, x, { chunk });
    assert.deepEqual(J.shape, [4, 4]);
    const expected = new Array<number>(16).fill(0);
    const xs = [0.3, -0.7, 1.1, 2], ws = [1, -2, 3, 0.5];
    for (let i = 0; i < 4; i++) expected[i * 4 + i] = 2 * Math.fround(xs[i]!) * ws[i]!;
    assertClose(Array.from(await J.data()), expected, 1e-6, 1e-6, `jacobian chunk ${chunk}`);
    J.dispose();
  }
});

test('ten thousand gradient steps leak neither tensors nor memory', () => {
  const x = tensor([1, 2, 3]);
  const live = liveTensors(), bytes = cpuBackend.allocatedBytes();
  for (let i = 0; i < 10000; i++) {
    tidy(() => { valueAndGrad(() => sum(mul(mul(x, x), 2)), [x]); });
  }
  assert.equal(liveTensors(), live);
  assert.equal(cpuBackend.allocatedBytes(), bytes);
});

test('a backward is told which inputs need a gradient, and a linear layer differentiated in x alone gives the same gradient', async () => {
  const seen: boolean[][] = [];
  const probeOp = defineOp<Record<string, never>>({
    name: 'test.needsProbe',
    infer: (inputs) => [{ shape: [...inputs[0]!.shape], dtype: 'float32' }],
    kernels: { cpu({ inputs: [a, b], outputs: [o] }) { cpuF32(o!).set(cpuF32(a!).map((v, i) => v * cpuF32(b!)[i]!)); } },
    backward([g], { inputs: [a, b], needs }) {
      seen.push([...needs]);
      return [needs[0] ? mul(g!, b!) : null, needs[1] ? mul(g!, a!) : null];
    },
  });
  const probe = (a: Tensor, b: Tensor) => runOp(probeOp, [a, b], {})[0]!;
  const x = tensor([1, 2, 3]), w = tensor([4, 5, 6]);
  for (const wrt of [[x], [w], [x, w]]) valueAndGrad(() => sum(probe(x, w)), wrt).grads.forEach((g) => g.dispose());
  assert.deepEqual(seen, [[true, false], [false, true], [true, true]]);
  const W = tensor([1, -2, 3, 0.5, 4, -1], [2, 3]), X = tensor([0.5, 1, -1, 2, 0, 3], [2, 3]);
  const alone = valueAndGrad(() => sum(mul(linear(X, W), linear(X, W))), [X]).grads[0]!;
  const both = valueAndGrad(() => sum(mul(linear(X, W), linear(X, W))), [X, W]).grads[0]!;
  assertClose(await alone.data(), await both.data(), 0);
});
