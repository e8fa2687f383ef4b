/**
 * Full-size model benchmark, factlab beside transformers on the same checkpoint and GPU: forward passes at several
 * batch sizes, forward plus backward (cross-entropy of the next token, gradients of every parameter), and the peak
 * GPU memory of each.
 *   node dist/bench/models.js --arch mamba|pythia --dir DIR [--batches 1,32,256] [--backward 1,32] [--tokens 16]
 *                             [--backend webgpu|cpu] [--python python3] [--no-reference] [--profile]
 * reference/forward_bench.py runs first: it writes a random-weight checkpoint to DIR when there is none (Mamba-2.8b or
 * Pythia-2.8b) and times transformers in float32 and bfloat16; then factlab loads the same DIR and times itself.
 * Appends a table to bench/results/models.md and docs/performance.md and writes bench/results/models-<date>-<arch>.json.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { benchContext, writeBenchRecord } from './context.js';
import { loadModel } from '../src/models/load.js';
import { useBackend } from '../src/tensor/backends/by-name.js';
import { WebGPUBackend } from '../src/tensor/backends/webgpu/webgpu-backend.js';
import { byOp, byShape, type KernelTotal } from '../src/tensor/backends/webgpu/kernel-timer.js';
import { tensor } from '../src/tensor/creation.js';
import { Rng } from '../src/tensor/random.js';
import { valueAndGrad } from '../src/tensor/autodiff.js';
import { tidy } from '../src/tensor/lifetime.js';
import { crossEntropy } from '../src/tensor/ops/loss/cross-entropy.js';
import { reshape } from '../src/tensor/ops/shape/reshape.js';
import { slice } from '../src/tensor/ops/shape/slice.js';
import { sum } from '../src/tensor/ops/index.js';
import type { LanguageModel } from '../src/models/model.js';
import type { Tensor } from '../src/tensor/tensor.js';

interface Opts { arch: 'mamba' | 'pythia'; dir: string; batches: string; backward: string; tokens: number; backend: string; python: string; reference: boolean; profile: boolean; matrices: 'float32' | 'float16' | 'bfloat16' }
interface Row {
  kind: 'forward' | 'forward+backward'; batch: number; ms: number | null; peakBytes: number | null; error?: string;
  /** With --profile: the GPU time of the pass's kernels (timestamps), their count, and the ops that took most of it. */
  /** `products`: matmul's kernels by sizes and plan (KernelTime.shape), largest first. */
  gpu?: { ms: number; kernels: number; top: KernelTotal[]; products: KernelTotal[] };
}

const list = (s: string) => s.split(',').filter(Boolean).map(Number);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function ids(batch: number, T: number, vocab: number): Tensor {
  const rng = new Rng(batch);
  return tensor(Int32Array.from({ length: batch * T }, () => 1 + rng.int(vocab - 1)), [batch, T]);
}

/**
 * One forward (logits at every position, as transformers computes them), or forward and backward of every float32
 * parameter (with --matrices float16 or bfloat16 the projection matrices are storage, and get no gradient).
 */
function step(model: LanguageModel, input: Tensor, backward: boolean): Tensor {
  const [B, T] = input.shape as [number, number];
  if (!backward) return tidy(() => sum(model.forward(input)));
  const targets = tidy(() => reshape(slice(input, 1, 1, T), [B * (T - 1)]));
  const { value, grads } = valueAndGrad(() => tidy(() => {
    const logits = slice(model.forward(input), 1, 0, T - 1);
    return crossEntropy(reshape(logits, [B * (T - 1), model.config.vocabSize]), targets);
  }), [...model.params.values()].filter((p) => p.dtype === 'float32'));
  for (const g of grads) g.dispose();
  targets.dispose();
  return value;
}

/**
 * As reference/forward_bench.py times transformers: the median of RUNS timed runs after a warm-up of at least two
 * runs and WARM_UP_MS (the first runs after loading or after another batch size are slower while the JIT, the buffer
 * pool and the GPU's clocks settle: with 1 s, batch 1 read 59.4 ms where a probe after 45 forwards read 31.5). Each run ends when its one-number result is read back.
 */
const RUNS = 10, WARM_UP_MS = 3000;
async function time(model: LanguageModel, gpu: WebGPUBackend | null, kind: Row['kind'], batch: number, T: number, profile: boolean): Promise<Row> {
  const input = ids(batch, T, model.config.vocabSize);
  try {
    const run = async () => { const out = step(model, input, kind !== 'forward'); await out.data(); out.dispose(); };
    const start = performance.now();
    for (let warm = 0; warm < 2 || performance.now() - start < WARM_UP_MS; warm++) await run();
    gpu?.resetPeakMemory();
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      await run();
      ms.push(performance.now() - t0);
    }
    const row: Row = { kind, batch, ms: +median(ms).toFixed(2), peakBytes: gpu ? gpu.peakMemoryBytes() : null };
    if (profile && gpu) {
      const { kernels } = await gpu.timeKernels(run);
      row.gpu = { ms: +kernels.reduce((t, k) => t + k.ms, 0).toFixed(2), kernels: kernels.length, top: byOp(kernels).slice(0, 6).map((x) => ({ ...x, ms: +x.ms.toFixed(2) })), products: byShape(kernels, 'matmul').slice(0, 4).map((x) => ({ ...x, ms: +x.ms.toFixed(2) })) };
    }
    return row;
  } catch (e) {
    return { kind, batch, ms: null, peakBytes: null, error: (e as Error).message.split('\n')[0] };
  } finally {
    input.dispose();
    gpu?.trimPool();
  }
}

async function main(o: Opts): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const backend = await useBackend(o.backend, '--backend');
  const gpu = backend instanceof WebGPUBackend ? backend : null;
  let reference: Record<string, unknown> | null = null;
  if (o.reference) {
    const out = join(mkdtempSync(join(tmpdir(), 'factlab-models-')), 'out.json');
    const script = fileURLToPath(new URL('../../reference/forward_bench.py', import.meta.url));
    console.error(`reference: ${o.python} ${script} ${o.arch} ${o.dir}`);
    const r = spawnSync(o.python, [script, o.arch, o.dir, '--batches', o.batches, '--backward', o.backward, '--tokens', String(o.tokens), '--out', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    reference = r.status === 0 && existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : { error: `${o.python} exited with ${r.status ?? r.error?.message}` };
  }
  if (!existsSync(join(o.dir, 'config.json'))) throw new Error(`${o.dir}: no checkpoint (run with the reference, which writes one)`);
  const t0 = performance.now();
  const model = await loadModel(o.dir, { matrices: o.matrices });
  const loadSeconds = (performance.now() - t0) / 1000;
  const weightBytes = gpu?.memoryBytes() ?? null;
  console.error(`factlab: loaded ${o.dir} in ${loadSeconds.toFixed(1)} s on ${o.backend}`);
  const rows: Row[] = [];
  for (const [kind, batches] of [['forward', o.batches], ['forward+backward', o.backward]] as const) {
    for (const b of list(batches)) {
      rows.push(await time(model, gpu, kind, b, o.tokens, o.profile));
      console.error(JSON.stringify(rows.at(-1)));
    }
  }
  const shape = `${model.config.arch}, ${model.config.nLayer} layers, width ${model.config.dModel}, ${([...model.params.values()].reduce((a, t) => a + t.size, 0) / 1e9).toFixed(2)}B parameters`;
  model.dispose();
  record(o, { shape, loadSeconds, weightBytes, rows }, reference, loadAtStart);
}

function record(o: Opts, factlab: { shape: string; loadSeconds: number; weightBytes: number | null; rows: Row[] }, reference: Record<string, unknown> | null, loadAtStart: number): void {
  const { date, commit, machine, command } = benchContext(loadAtStart);
  const ref = reference && !('error' in reference) ? reference as { torch: string; transformers: string; device: string; parameters: number; rows: { dtype: string; kind: string; batch: number; ms: number | null; peak_bytes: number | null }[] } : null;
  const gib = (b: number | null | undefined) => (b == null ? '–' : `${(b / 2 ** 30).toFixed(1)} GiB`);
  const refRow = (dtype: string, r: Row) => ref?.rows.find((x) => x.dtype === dtype && x.kind === r.kind && x.batch === r.batch);
  const cell = (x: { ms: number | null; peak_bytes?: number | null } | undefined) => (x ? (x.ms === null ? 'out of memory' : `${x.ms.toFixed(1)} ms, ${gib(x.peak_bytes)}`) : '–');
  const ratio = (r: Row, x: { ms: number | null } | undefined) => (r.ms && x?.ms ? `${(x.ms / r.ms).toFixed(2)}×` : '–');
  const md = [
    `### ${date.slice(0, 16).replace('T', ' ')} UTC — ${o.dir} (${factlab.shape}), ${o.tokens} tokens per row; factlab backend ${o.backend}; ${ref ? `transformers ${ref.transformers}, torch ${ref.torch} on ${ref.device}` : `reference: ${reference ? (reference as { error: string }).error : 'not run'}`}; ${machine.cpu}, ${machine.cores} cores; commit ${commit}`,
    '',
    `Command: \`${command}\`. Median of ${RUNS} runs after a warm-up of at least 2 runs and ${WARM_UP_MS / 1000} s; memory is the peak GPU memory during the runs, weights included (factlab: buffers in use or pooled; torch: max_memory_allocated). factlab loaded the checkpoint in ${factlab.loadSeconds.toFixed(1)} s${factlab.weightBytes ? ` (${gib(factlab.weightBytes)} on the GPU)` : ''}.`,
    '',
    `| pass | batch | factlab float32${o.matrices === 'float32' ? '' : ` (${o.matrices} matrices)`} | transformers float32 | transformers bfloat16 | factlab speed-up over float32 | over bfloat16 |`,
    '|---|---|---|---|---|---|---|',
    ...factlab.rows.map((r) => `| ${r.kind} | ${r.batch} | ${r.ms === null ? `failed: ${r.error}` : `${r.ms.toFixed(1)} ms, ${gib(r.peakBytes)}`} | ${cell(refRow('float32', r))} | ${cell(refRow('bfloat16', r))} | ${ratio(r, refRow('float32', r))} | ${ratio(r, refRow('bfloat16', r))} |`),
    '',
    ...(factlab.rows.some((r) => r.gpu) ? [
      'Where factlab\'s time goes (`--profile`: one more run of each pass with every kernel timed by GPU timestamps; the rest of the wall time is the host recording the kernels and waiting):',
      '',
      '| pass | batch | wall | GPU time of its kernels | kernels | the ops that took most of it |',
      '|---|---|---|---|---|---|',
      ...factlab.rows.filter((r) => r.gpu).map((r) => `| ${r.kind} | ${r.batch} | ${r.ms} ms | ${r.gpu!.ms} ms | ${r.gpu!.kernels} | ${r.gpu!.top.map((x) => `${x.op} ${x.ms} ms (${x.count})`).join('; ')} |`),
      '',
      'The products that took most of it (M × K × N of op(A)·op(B), M as a range, and the kernel\'s plan):',
      '',
      '| pass | batch | products |',
      '|---|---|---|',
      ...factlab.rows.filter((r) => r.gpu).map((r) => `| ${r.kind} | ${r.batch} | ${r.gpu!.products.map((x) => `${x.op}: ${x.ms} ms (${x.count})`).join('; ')} |`),
      '',
    ] : []),
  ].join('\n');
  writeBenchRecord('models', o.arch, date, { date, command, commit, machine, arch: o.arch, tokens: o.tokens, backend: o.backend, matrices: o.matrices, factlab, reference }, md);
}

await new Command('models')
  .description('full-size forward and backward passes, factlab beside transformers on the same checkpoint')
  .requiredOption('--arch <name>', 'mamba or pythia')
  .requiredOption('--dir <dir>', 'checkpoint folder (written by the reference when empty)')
  .option('--batches <list>', 'forward batch sizes', '1,32,256')
  .option('--backward <list>', 'forward+backward batch sizes', '1,32')
  .option('--tokens <n>', 'tokens per row', (v) => Number(v), 16)
  .option('--matrices <dtype>', 'keep the projection matrices in float32, float16 or bfloat16 (ModelLoadOptions.matrices)', 'float32')
  .option('--backend <name>', 'factlab backend', 'webgpu')
  .option('--python <path>', 'python with torch and transformers', process.env.FACTLAB_PYTHON ?? 'python3')
  .option('--no-reference', 'time factlab only (DIR must hold a checkpoint)')
  .option('--profile', 'also time each pass\'s kernels on the GPU (timestamps) and list the ops that take most of it')
  .action(main)
  .parseAsync();
