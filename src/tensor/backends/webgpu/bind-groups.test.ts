/**
 * A repeated computation (a training step) binds the same pooled buffers in the same pattern each time, so after a
 * few repetitions it creates no bind groups at all: the pool hands out the lowest-numbered free buffer, and bind
 * groups are cached by the buffer ranges they bind. Destroying a buffer forgets the cached groups, and the results
 * stay right throughout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGPU } from './webgpu-backend.js';
import { randn, tensor } from '../../creation.js';
import { tidy } from '../../lifetime.js';
import { valueAndGrad } from '../../autodiff.js';
import { crossEntropy, gelu, linear, mul, sub } from '../../ops/index.js';
import type { Tensor } from '../../tensor.js';

const gpu = await initWebGPU();

test('a repeated training step stops creating bind groups, and its results do not change', async () => {
  const backend = gpu;
  const device = gpu.device;
  let created = 0;
  const make = device.createBindGroup.bind(device);
  device.createBindGroup = (d: GPUBindGroupDescriptor) => { created++; return make(d); };
  try {
    const x = randn([8, 6], 1, 1, { backend });
    const targets = tensor(Int32Array.from({ length: 8 }, (_, i) => i % 3), [8], { backend });
    let params: Tensor[] = [randn([10, 6], 2, 0.3, { backend }), randn([10], 3, 0.1, { backend }), randn([3, 10], 4, 0.3, { backend }), randn([3], 5, 0.1, { backend })];
    const perStep: number[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 40; step++) {
      const before = created;
      const [next, value] = tidy(() => {
        const { value: v, grads } = valueAndGrad(() => crossEntropy(linear(gelu(linear(x, params[0]!, params[1]!)), params[2]!, params[3]!), targets), params);
        return [params.map((p, i) => sub(p, mul(grads[i]!, 0.1))), v] as const;
      });
      for (const p of params) p.dispose();
      params = next;
      losses.push(await value.item());
      value.dispose();
      perStep.push(created - before);
    }
    assert.ok(perStep[0]! > 10, `the first step creates its bind groups (${perStep[0]})`);
    assert.deepEqual(perStep.slice(-10), Array(10).fill(0), `bind groups created per step: ${perStep.join(' ')}`);
    assert.ok(losses[39]! < losses[0]!, 'the loss fell');
    for (const t of [x, targets, ...params]) t.dispose();
  } finally {
    device.createBindGroup = make;
  }
});
