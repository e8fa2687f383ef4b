// Runs in the WebGPU pass only (scripts/run-tests.mjs): tracing on the GPU, with passes started at a later layer and
// position (Mamba's states continued through the scan's initial state), against the CPU from position 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomModel } from '../../models/random.js';
import { tinyMamba } from '../../models/testing/tiny-configs.js';
import { setBackend, withBackend } from '../../tensor/backends/current.js';
import { cpuBackend } from '../../tensor/backends/cpu/cpu-backend.js';
import { selectTestBackend } from '../../tensor/testing/backend-under-test.js';
import { liveTensors } from '../../tensor/lifetime.js';
import { traceInput } from './trace.js';
import { resolveTraceSite } from './sites.js';
import { noiseInput, paddedSwapInput } from './testing.js';

const gpu = await selectTestBackend();

test(`mamba: tracing with layer and position reuse on ${gpu.name} gives the CPU's matrices from position 0`, async () => {
  const onCpu = withBackend(cpuBackend, () => randomModel(tinyMamba, 5)), onGpu = randomModel(tinyMamba, 5);
  const sites = ['residual', 's', 'g', 'o'].map((s) => resolveTraceSite(tinyMamba, s));
  for (const input of [paddedSwapInput(), noiseInput(2, tinyMamba.dModel)]) {
    const before = liveTensors();
    // The engine makes its index and id tensors on the current backend, so the CPU run switches it for its length.
    setBackend(cpuBackend);
    const want = await traceInput(onCpu, input, sites, { batchSize: 9, reuse: false }).finally(() => setBackend(gpu));
    const got = await traceInput(onGpu, input, sites, { batchSize: 9 });
    assert.equal(got.answer, want.answer);
    let worst = 0;
    got.sites.forEach((s, k) => s.scores.forEach((row, t) => row.forEach((v, l) => { worst = Math.max(worst, Math.abs(v - want.sites[k]!.scores[t]![l]!)); })));
    assert.ok(worst < 1e-5, `max |cpu − ${gpu.name}| = ${worst}`);
    assert.equal(liveTensors(), before, 'no tensor is left behind');
  }
  onCpu.dispose(); onGpu.dispose();
});
