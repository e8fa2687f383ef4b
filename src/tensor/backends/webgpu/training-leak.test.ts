/**
 * Thousands of forward and backward passes on the WebGPU backend leave nothing behind: a small MLP is trained
 * for 2000 steps (about 40 ops each, forward, backward and update), and after the first steps the live tensors,
 * the bytes they hold, the storages and the GPU buffers in existence (live, pooled or awaiting reuse) stay
 * exactly constant while the loss falls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGPU } from './webgpu-backend.js';
import { tensor, randn } from '../../creation.js';
import { liveTensors, tidy } from '../../lifetime.js';
import { valueAndGrad } from '../../autodiff.js';
import { crossEntropy, gelu, linear, mul, sub } from '../../ops/index.js';
import type { Tensor } from '../../tensor.js';

const gpu = await initWebGPU();

test('2000 training steps of an MLP keep tensors, bytes and GPU buffers constant', async () => {
  const backend = gpu;
  const x = randn([32, 16], 1, 1, { backend });
  const targets = tensor(Int32Array.from({ length: 32 }, (_, i) => (i * 7) % 4), [32], { backend });
  let params: Tensor[] = [randn([32, 16], 2, 0.3, { backend }), randn([32], 3, 0.1, { backend }), randn([4, 32], 4, 0.3, { backend }), randn([4], 5, 0.1, { backend })];
  const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) => crossEntropy(linear(gelu(linear(x, w1, b1)), w2, b2), targets);
  let baseline: number[] | null = null;
  let first = NaN, last = NaN;
  for (let step = 0; step <= 2000; step++) {
    const [next, value] = tidy(() => {
      const { value: v, grads } = valueAndGrad(() => loss(params[0]!, params[1]!, params[2]!, params[3]!), params);
      return [params.map((p, i) => sub(p, mul(grads[i]!, 0.1))), v] as const;
    });
    for (const p of params) p.dispose();
    params = next;
    if (step % 250 === 0) {
      const l = await value.item();
      if (step === 0) first = l;
      last = l;
    }
    value.dispose();
    if (step % 250 === 0) {
      await gpu.sync();
      const counts = [liveTensors(), gpu.allocatedBytes(), gpu.liveStorages(), gpu.bufferCount()];
      if (step === 250) baseline = counts;
      else if (baseline) assert.deepEqual(counts, baseline, `step ${step}: [live tensors, bytes, storages, buffers]`);
    }
  }
  assert.ok(last < first * 0.5, `the loss did not fall: ${first} → ${last}`);
  for (const t of [x, targets, ...params]) t.dispose();
});

test('GPU memory counts every buffer that exists, in use or pooled, and its peak since a reset', async () => {
  gpu.trimPool();
  const base = gpu.memoryBytes();
  gpu.resetPeakMemory();
  const a = randn([1024, 1024], 6, 1, { backend: gpu });
  await a.data();
  assert.ok(gpu.memoryBytes() - base >= 4 * 1024 * 1024, `${gpu.memoryBytes() - base} bytes for a 4 MiB tensor`);
  const b = mul(a, a);
  await b.data();
  const both = gpu.memoryBytes();
  assert.ok(both - base >= 8 * 1024 * 1024);
  a.dispose(); b.dispose();
  assert.equal(gpu.memoryBytes(), both, 'freed buffers stay in the pool, and count');
  assert.equal(gpu.peakMemoryBytes(), both);
  gpu.trimPool();
  assert.equal(gpu.memoryBytes(), base);
  gpu.resetPeakMemory();
  assert.equal(gpu.peakMemoryBytes(), base);
});

test('a backward pass holds only its frontier: gradients and temporaries go as soon as they are used', async () => {
  const backend = gpu;
  const L = 48, d = 256;
  const x = randn([64, d], 7, 1, { backend });
  const ws = Array.from({ length: L }, (_, i) => randn([d, d], 10 + i, 1 / 16, { backend }));
  await x.data();
  gpu.trimPool();
  const before = gpu.memoryBytes();
  gpu.resetPeakMemory();
  const { value, grads } = valueAndGrad(() => tidy(() => {
    let h = x;
    for (const w of ws) h = gelu(linear(h, w));
    return crossEntropy(h, tensor(Int32Array.from({ length: 64 }, (_, i) => i % d), [64], { backend }));
  }), ws);
  await value.data();
  const layer = 64 * d * 4, weights = L * d * d * 4;
  // The forward's saved activations (a few per layer) and the weights' gradients must stay; every other gradient
  // (a [64, d] per layer and op) must not pile up: without freeing, the excess is several times L layers of them.
  const excess = gpu.peakMemoryBytes() - before - weights;
  assert.ok(excess < 6 * L * layer, `backward used ${(excess / layer).toFixed(1)} activation-sized buffers beyond the weights' gradients (${L} layers)`);
  value.dispose();
  for (const g of grads) g.dispose();
  x.dispose();
  for (const w of ws) w.dispose();
});
