/**
 * The host's share of a one-prompt forward pass: how many kernels a small random-weight Mamba's forward launches
 * (batch 1, 16 tokens), how long JavaScript takes to record them, and the whole pass until its result is read.
 * Batch 1 on the H100 is bound by this recording (docs/performance.md), so it is measured where the change is
 * made: on any machine with a WebGPU adapter (lavapipe included). To compare two builds, run each checkout's own
 * copy alternately; each entry names its commit.
 *   node dist/bench/forward-host.js [--layers 24] [--width 128] [--forwards 60] [--runs 3] [--backend webgpu]
 * Appends a table to bench/results/forward-host.md and docs/performance.md and writes bench/results/forward-host-<date>-<backend>.json.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { benchContext, writeBenchRecord } from './context.js';
import { useBackend } from '../src/tensor/backends/by-name.js';
import { WebGPUBackend } from '../src/tensor/backends/webgpu/webgpu-backend.js';
import { parseConfig } from '../src/io/config/config.js';
import { randomModel } from '../src/models/random.js';
import { tensor } from '../src/tensor/creation.js';
import { tidy } from '../src/tensor/lifetime.js';
import { sum } from '../src/tensor/ops/index.js';

interface Opts { layers: number; width: number; forwards: number; runs: number; backend: string }
interface Run { kernels: number | null; recordMs: number; passMs: number }

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: a positive integer, got ${v}`);
  return n;
};

async function main(o: Opts): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const backend = await useBackend(o.backend, '--backend');
  const gpu = backend instanceof WebGPUBackend ? backend : null;
  const config = parseConfig({ model_type: 'mamba', hidden_size: o.width, num_hidden_layers: o.layers, vocab_size: 1000, state_size: 16 }, 'forward-host');
  const model = randomModel(config, 0);
  const ids = tensor(Int32Array.from({ length: 16 }, (_, i) => 1 + i), [1, 16]);
  const pass = async () => {
    const t0 = performance.now();
    const out = tidy(() => sum(model.forward(ids)));
    const recorded = performance.now();
    await out.data();
    out.dispose();
    return { record: recorded - t0, pass: performance.now() - t0 };
  };
  for (let i = 0; i < 3; i++) await pass(); // kernels compiled, buffer pool filled
  const runs: Run[] = [];
  for (let r = 0; r < o.runs; r++) {
    const before = gpu?.recorder.submittedDispatches ?? 0;
    let record = 0, total = 0;
    for (let i = 0; i < o.forwards; i++) { const t = await pass(); record += t.record; total += t.pass; }
    runs.push({ kernels: gpu ? (gpu.recorder.submittedDispatches - before) / o.forwards : null, recordMs: record / o.forwards, passMs: total / o.forwards });
    console.error(JSON.stringify(runs.at(-1)));
  }
  model.dispose(); ids.dispose();
  const { date, commit, machine, command } = benchContext(loadAtStart);
  const device = gpu?.description ?? o.backend;
  const md = [
    `### ${date.slice(0, 16).replace('T', ' ')} UTC — Mamba forward, batch 1, 16 tokens, ${o.layers} layers, width ${o.width} (random weights); backend ${o.backend} (${device}); ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${loadAtStart.toFixed(2)} at start, ${machine.loadAverage.end.toFixed(2)} at end; commit ${commit}`,
    '',
    `Command: \`${command}\` — ${o.forwards} forwards per run after 3 warm-up ones, each read back before the next.`,
    '',
    '| run | kernels per forward | JavaScript recording per forward | whole forward (until read) |',
    '|---|---|---|---|',
    ...runs.map((r, i) => `| ${i + 1} | ${r.kernels ?? '–'} | ${r.recordMs.toFixed(2)} ms | ${r.passMs.toFixed(2)} ms |`),
    '',
  ].join('\n');
  writeBenchRecord('forward-host', o.backend, date, { date, commit, machine, command, device, layers: o.layers, width: o.width, forwards: o.forwards, runs }, md);
}

const o = new Command('forward-host-bench')
  .description('kernels and host recording time of a one-prompt Mamba forward')
  .option('--layers <n>', 'layers', positive('--layers'), 24)
  .option('--width <n>', 'hidden size', positive('--width'), 128)
  .option('--forwards <n>', 'forwards per run', positive('--forwards'), 60)
  .option('--runs <n>', 'runs', positive('--runs'), 3)
  .option('--backend <name>', 'webgpu or cpu', 'webgpu')
  .parse().opts<Opts>();
await main(o);
