/**
 * Training throughput: tokens per second of `trainLanguageModel` (forward, backward, clipping, AdamW) on random
 * tokens, for each architecture of a size preset, on WebGPU and on the CPU backend. Prints one JSON line per
 * measurement and a markdown table at the end.
 *
 *   node dist/bench/train.js [--arch mamba,gptneox] [--preset organism] [--vocab 8192] [--batch 64] [--seq 128]
 *     [--steps 10] [--backend webgpu,cpu] [--cpu-steps 2] [--profile] [--out file.json]
 *
 * --profile attributes the WebGPU step time to ops without timestamp queries: each op's kernel is run R times
 * instead of once (kernels write every output element from their inputs, so repeating one changes nothing but the
 * time), and (t_R − t_1)/(R − 1) is that op's share of a step, recording included.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setBackend } from '../src/tensor/backends/current.js';
import { cpuBackend } from '../src/tensor/backends/cpu/cpu-backend.js';
import { setThreadCount, threadCount } from '../src/tensor/backends/cpu/wasm.js';
import { initWebGPU } from '../src/tensor/backends/webgpu/webgpu-backend.js';
import { registeredOps, type Kernel } from '../src/tensor/op.js';
import { randomModel } from '../src/models/random.js';
import { trainLanguageModel } from '../src/methods/train/train.js';
import { parameterCount, presetConfig, type Arch } from '../src/methods/train/presets.js';
import { Rng } from '../src/tensor/random.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : fallback; };
const archs = opt('arch', 'mamba,gptneox').split(',') as Arch[];
const preset = opt('preset', 'organism');
const vocab = Number(opt('vocab', '8192'));
const batch = Number(opt('batch', '64')), seq = Number(opt('seq', '128'));
const steps = Number(opt('steps', '10')), cpuSteps = Number(opt('cpu-steps', '2'));
const backends = opt('backend', 'webgpu,cpu').split(',');
const profile = args.includes('--profile');
const out = opt('out', '');

const rng = new Rng(1);
const tokens = Int32Array.from({ length: 2_000_000 }, () => rng.int(vocab));
const results: Record<string, unknown>[] = [];
const report = (r: Record<string, unknown>) => { results.push(r); console.log(JSON.stringify(r)); };

/** Seconds per step over `n` steps, after the run's own start-up (one step, for pipelines and pools). */
async function timeSteps(arch: Arch, n: number): Promise<number> {
  const model = randomModel(presetConfig(arch, preset, vocab), 0);
  const o = { batchSize: batch, seqLen: seq, lr: 1e-3, clipNorm: 1, seed: 0, readEvery: 1000 };
  await trainLanguageModel(model, { tokens }, { ...o, steps: 1 });
  const t = performance.now();
  await trainLanguageModel(model, { tokens }, { ...o, steps: n, warmupSteps: 0 });
  const s = (performance.now() - t) / 1000 / n;
  model.dispose();
  return s;
}

const repeat = new Map<string, number>();
function wrapKernels(): string[] {
  const names: string[] = [];
  for (const def of registeredOps()) {
    const k = def.kernels?.webgpu as Kernel<unknown> | undefined;
    if (!k) continue;
    names.push(def.name);
    (def.kernels as Record<string, Kernel<unknown>>).webgpu = (call) => { for (let r = repeat.get(def.name) ?? 1; r > 0; r--) k(call); };
  }
  return names;
}

const rows: string[][] = [];
for (const backendName of backends) {
  if (backendName === 'webgpu') {
    const gpu = await initWebGPU();
    setBackend(gpu);
    const opNames = profile ? wrapKernels() : [];
    for (const arch of archs) {
      const params = parameterCount(presetConfig(arch, preset, vocab));
      const d0 = gpu.recorder.submittedDispatches;
      const s = await timeSteps(arch, steps);
      const dispatchesPerStep = Math.round((gpu.recorder.submittedDispatches - d0) / (steps + 1));
      report({ arch, preset, params, backend: 'webgpu', device: gpu.description, batch, seq, secondsPerStep: s, tokensPerSecond: (batch * seq) / s, dispatchesPerStep });
      rows.push([arch, 'webgpu', `${(s * 1000).toFixed(1)} ms`, `${Math.round((batch * seq) / s).toLocaleString('en-US')}`]);
      if (!profile) continue;
      const R = 4, n = Math.max(3, Math.ceil(steps / 2));
      const base = await timeSteps(arch, n);
      const shares: { op: string; ms: number }[] = [];
      for (const name of opNames) {
        repeat.set(name, R);
        const t = await timeSteps(arch, n);
        repeat.delete(name);
        const ms = ((t - base) / (R - 1)) * 1000;
        if (ms > 0.02) shares.push({ op: name, ms });
      }
      shares.sort((a, b) => b.ms - a.ms);
      report({ arch, backend: 'webgpu', profile: shares.map((x) => ({ op: x.op, msPerStep: +x.ms.toFixed(2), share: +(x.ms / (base * 1000)).toFixed(3) })), baseMsPerStep: +(base * 1000).toFixed(1) });
    }
  } else {
    setBackend(cpuBackend);
    setThreadCount(Math.min(16, cpus().length));
    for (const arch of archs) {
      const s = await timeSteps(arch, cpuSteps);
      report({ arch, preset, backend: 'cpu', threads: threadCount(), cpu: cpus()[0]?.model, batch, seq, secondsPerStep: s, tokensPerSecond: (batch * seq) / s });
      rows.push([arch, `cpu (${threadCount()} threads)`, `${(s * 1000).toFixed(1)} ms`, `${Math.round((batch * seq) / s).toLocaleString('en-US')}`]);
    }
  }
}
console.log(['', '| arch | backend | time per step | tokens/s |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n'));
console.log(`batch ${batch} × ${seq} tokens, preset ${preset}, vocabulary ${vocab}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${new Date().toISOString()}`);
if (out) writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), command: `node dist/bench/train.js ${args.join(' ')}`, results }, null, 1));
process.exit(0);
