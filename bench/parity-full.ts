/**
 * Loads a full-size checkpoint written by reference/make_full_size.py and compares factlab's logits with
 * transformers' float32 logits (GPU and CPU) and with the float64 logits that measure both. Prints one JSON line.
 *   node dist/bench/parity-full.js DIR
 */
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { loadModel } from '../src/models/load.js';
import { openCheckpoint } from '../src/io/checkpoint/index.js';
import { threadCount } from '../src/tensor/backends/cpu/wasm.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node dist/bench/parity-full.js DIR');
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let w = 0;
  for (let j = 0; j < a.length; j++) w = Math.max(w, Math.abs(a[j]! - b[j]!));
  return w;
};
let t = performance.now();
const model = await loadModel(dir);
const loadSeconds = +((performance.now() - t) / 1000).toFixed(1);
const ref = await openCheckpoint(dir, { file: 'reference.safetensors' });
const ids = await ref.load('input_ids');
const references: Record<string, ArrayLike<number>> = {
  transformers_gpu_fp32: await (await ref.load('logits')).data(),
  transformers_cpu_fp32: await (await ref.load('logits_cpu')).data(),
  transformers_cpu_fp64: await (await ref.load('logits_cpu64')).data(),
};
const outputs: ArrayLike<number>[] = [];
const forwardMs: number[] = [];
for (let i = 0; i < 3; i++) {
  t = performance.now();
  const logits = model.forward(ids);
  outputs.push(await logits.data());
  forwardMs.push(Math.round(performance.now() - t));
  logits.dispose();
}
const maxAbsDiff = Object.fromEntries(Object.entries(references).map(([k, v]) => [k, maxDiff(outputs[0]!, v)]));
console.log(JSON.stringify({ dir, arch: model.config.arch, layers: model.config.nLayer, batch: ids.shape, maxAbsDiff,
  repeatMaxAbsDiff: Math.max(maxDiff(outputs[0]!, outputs[1]!), maxDiff(outputs[0]!, outputs[2]!)),
  loadSeconds, forwardMs, threads: threadCount(), cpu: os.cpus()[0]?.model, node: process.version }));
