import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../creation.js';
import { liveTensors } from '../lifetime.js';
import { valueAndGrad } from '../autodiff.js';
import { sub } from '../ops/elementwise/binary.js';
import { square } from '../ops/elementwise/unary.js';
import { sum } from '../ops/reduce/sum.js';
import { AdamW, clipGradNorm, clipGradNormOnDevice, warmupCosine } from './index.js';

/** torch.optim.AdamW written out in float64 for one parameter vector. */
function referenceAdamW(p: number[], grads: number[][], lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): number[] {
  const m = p.map(() => 0), v = p.map(() => 0);
  let x = [...p];
  grads.forEach((g, k) => {
    const t = k + 1;
    x = x.map((xi, i) => {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + eps;
      return xi * (1 - lr * wd) - (lr / (1 - b1 ** t)) * (m[i]! / denom);
    });
  });
  return x;
}

test('AdamW follows torch.optim.AdamW step for step, with and without weight decay', async () => {
  const before = liveTensors();
  const grads = [[0.5, -1, 2], [0.1, 0.3, -0.2], [-1, 1e-3, 0]];
  for (const wd of [0, 0.1]) {
    let p = tensor([1, -2, 3], [3]);
    const opt = new AdamW([p], { lr: 0.05, weightDecay: wd });
    for (const g of grads) {
      const gt = tensor(g, [3]);
      const [next] = opt.step([p], [gt]);
      p.dispose(); gt.dispose();
      p = next!;
    }
    const got = Array.from(await p.data());
    referenceAdamW([1, -2, 3], grads, 0.05, wd).forEach((r, i) => assert.ok(Math.abs(got[i]! - r) < 1e-6, `wd ${wd} element ${i}: ${got[i]} vs ${r}`));
    p.dispose(); opt.dispose();
  }
  assert.equal(liveTensors(), before, 'no tensor left behind');
});

test('AdamW minimises a quadratic, and decay flags exempt parameters', async () => {
  const target = tensor([3, -1, 0.5, 2], [4]);
  let p = tensor([0, 0, 0, 0], [4]);
  const opt = new AdamW([p], { lr: 0.1 });
  for (let i = 0; i < 300; i++) {
    const { value, grads } = valueAndGrad(() => { const d = sub(p, target), s = square(d), l = sum(s); d.dispose(); s.dispose(); return l; }, [p]);
    const [next] = opt.step([p], grads);
    value.dispose(); grads[0]!.dispose(); p.dispose();
    p = next!;
  }
  Array.from(await p.data()).forEach((x, i) => assert.ok(Math.abs(x - [3, -1, 0.5, 2][i]!) < 1e-2, `${x}`));
  p.dispose(); target.dispose(); opt.dispose();

  const a = tensor([1], [1]), b = tensor([1], [1]), g = tensor([0], [1]);
  const o2 = new AdamW([a, b], { lr: 0.1, weightDecay: 0.5, decay: [true, false] });
  const [a2, b2] = o2.step([a, b], [g, g]);
  assert.ok(Math.abs((await a2!.item()) - 0.95) < 1e-7);
  assert.equal(await b2!.item(), 1);
  for (const t of [a, b, g, a2!, b2!]) t.dispose();
  o2.dispose();
});

test('warm-up then cosine: linear rise, peak, half-way, floor', () => {
  const lr = warmupCosine({ peak: 1, warmupSteps: 4, totalSteps: 14, min: 0.1 });
  assert.deepEqual([0, 1, 2, 3].map(lr), [0.25, 0.5, 0.75, 1]);
  assert.equal(lr(4), 1);
  assert.ok(Math.abs(lr(9) - 0.55) < 1e-12);
  assert.equal(lr(14), 0.1);
  assert.equal(lr(100), 0.1);
  assert.throws(() => warmupCosine({ peak: 1, warmupSteps: 5, totalSteps: 2 }), /warmupSteps ≤ totalSteps/);
});

test('clipGradNorm scales to the maximum norm only when it is exceeded', async () => {
  const g1 = tensor([3, 0], [2]), g2 = tensor([4], [1]);
  const small = await clipGradNorm([g1, g2], 10);
  assert.equal(small.clipped, false);
  assert.equal(small.norm, 5);
  const big = await clipGradNorm([g1, g2], 1);
  assert.equal(big.clipped, true);
  const scaled = [...(await big.grads[0]!.data()), ...(await big.grads[1]!.data())];
  const n = Math.hypot(...scaled);
  assert.ok(Math.abs(n - 1) < 1e-5, `${n}`);
  for (const t of [g1, g2, ...big.grads]) t.dispose();
});

test('clipGradNormOnDevice matches clipGradNorm without reading, and leaves small gradients exactly as they are', async () => {
  const before = liveTensors();
  const g1 = tensor([3, 0], [2]), g2 = tensor([4], [1]);
  for (const maxNorm of [10, 1]) {
    const host = await clipGradNorm([g1, g2], maxNorm);
    const dev = clipGradNormOnDevice([g1, g2], maxNorm);
    assert.ok(Math.abs((await dev.norm.item()) - 5) < 1e-6);
    const got = [...(await dev.grads[0]!.data()), ...(await dev.grads[1]!.data())];
    const want = [...(await host.grads[0]!.data()), ...(await host.grads[1]!.data())];
    got.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-6, `max ${maxNorm}, element ${i}: ${x} vs ${want[i]}`));
    if (maxNorm === 10) assert.deepEqual(got, [3, 0, 4]);
    for (const t of [dev.norm, ...dev.grads, ...(host.clipped ? host.grads : [])]) t.dispose();
  }
  g1.dispose(); g2.dispose();
  assert.equal(liveTensors(), before, 'no tensor left behind');
});
