/**
 * Engine benchmark: `npm run bench` (node dist/bench/engine.js [name filters…]).
 *
 * Times each case in `benchCases` after a warm-up run, as the median of several runs, with 1 and 2 threads;
 * prints a markdown table, appends it to bench/results/engine.md and writes every figure, the machine and the
 * command to bench/results/engine-<date>.json. Arguments keep only cases whose name contains one of them.
 * Matmul figures include copying the operands into wasm memory and the result back: that is what an op pays.
 *
 * To add a benchmark (e.g. the selective scan), push BenchCase entries in the marked section below.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { matmulCpu, setThreadCount } from '../src/tensor/backends/cpu/wasm.js';
import { scanBenchCases } from './scan.js';

export interface BenchCase {
  /** Unique name; command-line filters match substrings of it. */
  name: string;
  /** Threads including the main one (applied with setThreadCount). */
  threads: number;
  /** Work per run, counted in `unit` ×1e9 per second: flops for GFLOP/s, elements for Gelem/s, … */
  work: number;
  unit: string;
  /** Allocates the inputs and returns the function to time; called once per case, just before timing. */
  prepare(): () => void;
}

function random(n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() - 0.5;
  return x;
}

function matmulCase(m: number, k: number, n: number, transB: boolean, threads: number, note = ''): BenchCase {
  return {
    name: `matmul ${m}x${k}x${n} ${transB ? 'A·Bᵀ' : 'A·B'}${note}`,
    threads,
    work: 2 * m * k * n,
    unit: 'GFLOP/s',
    prepare() {
      const a = random(m * k), b = random(k * n), out = new Float32Array(m * n);
      return () => matmulCpu(a, b, out, { batch: 1, m, k, n, transA: false, transB, strideA: 0, strideB: 0 });
    },
  };
}

export const benchCases: BenchCase[] = [];
for (const threads of [1, 2]) {
  for (const [m, k, n] of [[512, 512, 512], [1024, 1024, 1024], [512, 10240, 2560]] as const) {
    for (const transB of [false, true]) benchCases.push(matmulCase(m, k, n, transB, threads));
  }
  // The LM head of a 2.8B model on 16 tokens: a 515 MB weight, bound by copying it into wasm memory.
  benchCases.push(matmulCase(16, 2560, 50280, true, threads, ' (LM head)'));
}

// ---- Further benchmarks (selective scan, conv1d, …): push BenchCase entries to benchCases here. ----

// Selective scan at Mamba-2.8b sizes (bench/scan.ts).
benchCases.push(...scanBenchCases());

// cpuMs (all threads of the process) is kept because the machine may be shared: a median wall time well above
// cpuMs / threads means the threads waited for a core.
interface Result { name: string; threads: number; unit: string; rate: number; medianMs: number; minMs: number; cpuMs: number; repeats: number }

function timeCase(c: BenchCase): Result {
  setThreadCount(c.threads);
  try {
    const run = c.prepare();
    let t0 = performance.now();
    run(); // warm-up: compiles the kernels, starts the workers, grows the wasm memory
    const first = performance.now() - t0;
    // About 3 s per case, between 5 and 25 runs.
    const repeats = Math.max(5, Math.min(25, Math.ceil(3000 / Math.max(first, 1))));
    const ms: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const u = process.cpuUsage();
      t0 = performance.now();
      run();
      ms.push(performance.now() - t0);
      const d = process.cpuUsage(u);
      cpu.push((d.user + d.system) / 1000);
    }
    const median = (x: number[]): number => x.sort((p, q) => p - q)[Math.floor(x.length / 2)]!;
    const wall = median(ms);
    return { name: c.name, threads: c.threads, unit: c.unit, rate: c.work / (wall / 1000) / 1e9, medianMs: wall, minMs: ms[0]!, cpuMs: median(cpu), repeats };
  } finally {
    setThreadCount(undefined);
  }
}

function main(): void {
  const filters = process.argv.slice(2);
  const chosen = benchCases.filter((c) => filters.length === 0 || filters.some((f) => c.name.includes(f)));
  if (chosen.length === 0) throw new Error(`no benchmark matches ${filters.join(', ')}`);
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()}`,
    node: process.version,
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  const date = new Date().toISOString();
  const command = `node ${process.argv.slice(1).map((a) => a.replace(process.cwd() + '/', '')).join(' ')}`;
  const results: Result[] = [];
  for (const c of chosen) {
    const r = timeCase(c);
    results.push(r);
    console.error(`${r.name}, ${r.threads} thread(s): ${r.rate.toFixed(1)} ${r.unit} (median ${r.medianMs.toFixed(1)} ms of ${r.repeats})`);
  }

  // One row per case, one column per thread count.
  const names = [...new Set(results.map((r) => r.name))];
  const threadCounts = [...new Set(results.map((r) => r.threads))].sort();
  const rows = names.map((name) => {
    const cells = threadCounts.map((t) => {
      const r = results.find((x) => x.name === name && x.threads === t);
      return r ? `${r.rate.toFixed(1)} ${r.unit} (${r.medianMs.toFixed(1)} ms)` : '';
    });
    return `| ${name} | ${cells.join(' | ')} |`;
  });
  const loadAtEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  const table = [
    `### ${date.slice(0, 16).replace('T', ' ')} UTC — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverageAtStart[0]} at start, ${loadAtEnd[0]} at end`,
    '',
    `Command: \`${command}\` — median of 5-25 runs after a warm-up, copies into and out of wasm memory included.`,
    '',
    `| case | ${threadCounts.map((t) => `${t} thread${t > 1 ? 's' : ''}`).join(' | ')} |`,
    `|---|${threadCounts.map(() => '---').join('|')}|`,
    ...rows,
    '',
  ].join('\n');
  console.log(table);

  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}engine-${date.slice(0, 10)}.json`;
  writeFileSync(file, JSON.stringify({ date, command, machine: { ...machine, loadAverageAtEnd: loadAtEnd }, results }, null, 2) + '\n');
  appendFileSync(`${dir}engine.md`, table + '\n');
  console.error(`wrote ${file} and appended the table to ${dir}engine.md`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
