/**
 * The op test suite: every registered op's spec, run on the backend named by FACTLAB_BACKEND (default cpu),
 * plus the rule that no op exists without a forward test against an independent reference and a gradient
 * test against finite differences. Each case must also give back every tensor and byte it allocated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import './index.js';
import { allSpecs } from './specs.js';
import { registeredOps } from '../op.js';
import { runForwardCase, runGradCase } from '../testing/check.js';
import { liveTensors, tidy, tidyAsync } from '../lifetime.js';
import { FactlabError } from '../errors.js';
import { selectTestBackend } from '../testing/backend-under-test.js';

const backend = await selectTestBackend();

async function noLeak(what: string, fn: () => Promise<void>): Promise<void> {
  const tensors = liveTensors(), bytes = backend.allocatedBytes();
  await tidyAsync(fn);
  assert.equal(liveTensors(), tensors, `${what}: ${liveTensors() - tensors} tensors left alive`);
  assert.equal(backend.allocatedBytes(), bytes, `${what}: ${backend.allocatedBytes() - bytes} bytes left allocated`);
}

/**
 * Ops that run a kernel but have none for this backend. Their cases are reported as skipped (by name) rather than
 * failed, and the list must equal the backend's checked-in list of missing kernels (only webgpu has one), so that a
 * kernel cannot go missing unnoticed and adding one means taking it off the list.
 */
const missingKernels = registeredOps().filter((op) => !op.viewOffset && !op.kernels?.[backend.name]).map((op) => op.name).sort();
const checkedInMissing: string[] = backend.name === 'webgpu'
  ? JSON.parse(readFileSync(new URL('../../../../src/tensor/backends/webgpu/missing-kernels.json', import.meta.url), 'utf8')) as string[]
  : [];
const skipFor = (ops: readonly string[]) => {
  const missing = ops.filter((name) => missingKernels.includes(name));
  return missing.length > 0 ? `no ${backend.name} kernel for ${missing.join(', ')}` : false;
};

test(`the ops without a ${backend.name} kernel are exactly the checked-in list`, () => {
  assert.deepEqual(missingKernels, [...checkedInMissing].sort());
});

for (const spec of allSpecs) {
  for (const c of spec.forward) test(`${c.op} forward: ${c.name} [${backend.name}]`, { skip: skipFor([c.op]) }, () => noLeak(c.name, () => runForwardCase(c)));
  for (const c of spec.grad) test(`${c.op} gradient: ${c.name} [${backend.name}]`, { skip: skipFor([c.op, ...(c.covers ?? [])]) }, () => noLeak(c.name, () => runGradCase(c)));
  for (const c of spec.errors ?? []) {
    test(`${c.op} error: ${c.name} [${backend.name}]`, { skip: skipFor([c.op]) }, () => {
      assert.throws(() => tidy(() => { c.run(); }), (e: unknown) => e instanceof FactlabError && c.message.test(e.message));
    });
  }
}

test('every op has a forward test and, if differentiable, a gradient test', () => {
  const forward = new Set(allSpecs.flatMap((s) => s.forward.map((c) => c.op)));
  const grad = new Set(allSpecs.flatMap((s) => s.grad.flatMap((c) => [c.op, ...(c.covers ?? [])])));
  const missing: string[] = [];
  for (const op of registeredOps()) {
    if (!op.internal && !forward.has(op.name)) missing.push(`${op.name}: no forward test`);
    if (!op.nondifferentiable && !grad.has(op.name)) missing.push(`${op.name}: no gradient test`);
  }
  assert.deepEqual(missing, []);
});
