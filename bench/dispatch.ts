/**
 * The host side of a WebGPU op: how long JavaScript takes to record one op (pipeline and bind group lookup,
 * uniforms, encoding) when nothing waits for the GPU, next to the time the queued work then takes to drain.
 * Separates our per-op cost from the GPU's when a training step is bound by the number of kernels
 * (bench/results/train.md). Appends to bench/results/dispatch.md.
 *   node dist/bench/dispatch.js [ops=2000]
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { execSync } from 'node:child_process';
import { useBackend } from '../src/tensor/backends/by-name.js';
import { WebGPUBackend } from '../src/tensor/backends/webgpu/webgpu-backend.js';
import { randn } from '../src/tensor/creation.js';
import { add, mul } from '../src/tensor/ops/elementwise/binary.js';
import { silu } from '../src/tensor/ops/elementwise/unary.js';
import { linear } from '../src/tensor/ops/linear/matmul.js';
import type { Tensor } from '../src/tensor/tensor.js';

const N = Number(process.argv[2] ?? 2000);
const gpu = await useBackend('webgpu', 'the backend') as WebGPUBackend;
const a = randn([64, 256], 1), b = randn([64, 256], 2), w = randn([256, 256], 3);
const cases: [string, () => Tensor][] = [['add [64,256]', () => add(a, b)], ['mul [64,256]', () => mul(a, b)], ['silu [64,256]', () => silu(a)], ['linear [64,256]·[256,256]ᵀ', () => linear(a, w)]];
const rows: string[] = [];
for (const [name, f] of cases) {
  let record = 0, drain = 0;
  for (let rep = 0; rep < 2; rep++) {  // the first round compiles pipelines and fills the buffer pool
    const t0 = performance.now();
    for (let i = 0; i < N; i++) f().dispose();
    const t1 = performance.now();
    const z = f();
    await z.data();
    z.dispose();
    [record, drain] = [(t1 - t0) / N, performance.now() - t1];
  }
  rows.push(`| ${name} | ${(record * 1000).toFixed(1)} µs | ${(drain / N * 1000).toFixed(1)} µs |`);
  console.log(rows[rows.length - 1]);
}
const date = new Date().toISOString();
let commit = 'unknown';
try { commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
mkdirSync('bench/results', { recursive: true });
appendFileSync('bench/results/dispatch.md', [
  `\n### ${date.slice(0, 16).replace('T', ' ')} UTC — ${gpu.description}; host ${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(2)}; commit ${commit}`,
  '', `Command: \`node dist/bench/dispatch.js ${N}\` — ${N} ops recorded back to back without a read, after a warm-up round.`, '',
  '| op | JavaScript per op (recording) | queued work per op (drain after the last) |', '|---|---|---|', ...rows, ''].join('\n'));
