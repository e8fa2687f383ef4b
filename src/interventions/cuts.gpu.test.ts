// Runs in the WebGPU pass only (scripts/run-tests.mjs): cuts and knockout on the GPU against the same on the CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './run.js';
import { randomModel } from '../models/random.js';
import { tinyMamba, tinyNeox } from '../models/testing/tiny-configs.js';
import { byteTokenizer } from '../models/testing/byte-tokenizer.js';
import { parseConfig } from '../io/config/config.js';
import { tensor } from '../tensor/creation.js';
import { setBackend, withBackend } from '../tensor/backends/current.js';
import { cpuBackend } from '../tensor/backends/cpu/cpu-backend.js';
import { selectTestBackend } from '../tensor/testing/backend-under-test.js';
import { knockoutFact } from '../methods/knockout/knockout.js';
import type { LanguageModel } from '../models/model.js';
import type { ModelConfig } from '../io/config/config.js';
import type { Cut } from './types.js';

const gpu = await selectTestBackend();
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };
/** The same random weights on both backends (randomModel draws them in JavaScript from the seed). */
const pair = (c: ModelConfig, seed: number): [LanguageModel, LanguageModel] => [withBackend(cpuBackend, () => randomModel(c, seed)), randomModel(c, seed)];

for (const [name, config] of [['mamba', tinyMamba], ['gpt-neox', tinyNeox()]] as const) {
  test(`${name}: a batch of rows with different cuts gives the CPU's logits on ${gpu.name}`, async () => {
    const [onCpu, onGpu] = pair(config, 3);
    const ids = [5, 9, 2, 7, 31, 4, 6, 11, 3, 20, 7, 8, 17, 6];
    const cuts: Cut[] = [{ layers: [0, 1, 2], rows: [0], sources: [1, 2, 3], targets: [-1, 5] }, { layers: [1], rows: [1], sources: [0, 4, 6], targets: [6] }];
    const logits = async (m: LanguageModel, backend: typeof gpu) => {
      const x = tensor(Int32Array.from(ids), [2, 7], { backend });
      const r = run(m, x, { cuts });
      const d = Float32Array.from(await r.logits.data());
      r.dispose(); x.dispose();
      return d;
    };
    const a = await logits(onCpu, cpuBackend), b = await logits(onGpu, gpu);
    assert.ok(maxDiff(a, b) < 1e-4, `max |cpu − ${gpu.name}| = ${maxDiff(a, b)}`);
    onCpu.dispose(); onGpu.dispose();
  });
}

test(`mamba: both knockout methods give the CPU's probabilities on ${gpu.name}`, async () => {
  const c = parseConfig({ model_type: 'mamba', hidden_size: 16, num_hidden_layers: 3, vocab_size: 264, state_size: 4, tie_word_embeddings: false });
  const [onCpu, onGpu] = pair(c, 5);
  const means = Array.from({ length: 3 }, (_, l) => Float32Array.from({ length: 32 }, (_, d) => Math.cos(l + d)));
  const o = { window: 2, batchSize: 9, means };
  // A method makes its tensors on the current backend: the CPU run goes first with the CPU current.
  setBackend(cpuBackend);
  const a = await knockoutFact(onCpu, byteTokenizer(), { prompt: 'Rome is in', subject: 'Rome' }, o);
  setBackend(gpu);
  const b = await knockoutFact(onGpu, byteTokenizer(), { prompt: 'Rome is in', subject: 'Rome' }, o);
  assert.equal(a.answer.id, b.answer.id);
  a.curves.forEach((cv, k) => assert.ok(maxDiff(cv.probs, b.curves[k]!.probs) < 1e-4, `${cv.method}/${cv.set}`));
  onCpu.dispose(); onGpu.dispose();
});
