// Runs in the WebGPU pass only (scripts/run-tests.mjs): models whose projection matrices are kept in 16 bits.
import { test } from 'node:test';
import { selectTestBackend } from '../tensor/testing/backend-under-test.js';
import { checkMatrices16 } from './testing/matrices16.js';

const gpu = await selectTestBackend();

for (const [fixture, dtype] of [['mamba-tiny', 'bfloat16'], ['pythia-parallel', 'float16']] as const) {
  test(`${fixture} with ${dtype} matrices on ${gpu.name} gives the logits of the same matrices widened`, () => checkMatrices16(fixture, dtype));
}
