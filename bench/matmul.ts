/**
 * float32 matmul throughput on the GPU, factlab beside PyTorch (TF32 off) in one run: the issue's two shapes (2048³
 * and 512×10240×2560), the few-row products of patching and editing a 2.8B model (16 or 384 rows against a
 * 2560×10240 weight), and Mamba's out_proj (K 5120). Each shape runs with the plan factlab picks and with every
 * forced plan of `--variants` (tile plans TMxBK[nTN][wTHREADS][s|sN][v|va|vb][d][p|pa|pb][u][c], bench/matmul-variants.ts; few-row plans rLANESxCOLS, for A·Bᵀ), so one run both
 * measures and tunes.
 *   node dist/bench/matmul.js [--shapes 2048x2048x2048:nn,...] [--variants 8x8s,4x16,8x8svd,r64x2,...] [--reps 50] [--python python3] [--no-reference]
 * Appends a table to bench/results/matmul.md and docs/performance.md and writes bench/results/matmul-<date>-gpu.json.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { benchContext, writeBenchRecord } from './context.js';
import { useBackend } from '../src/tensor/backends/by-name.js';
import { WebGPUBackend } from '../src/tensor/backends/webgpu/webgpu-backend.js';
import { randn } from '../src/tensor/creation.js';
import { linearSplit, matmul } from '../src/tensor/ops/linear/matmul.js';
import { cast } from '../src/tensor/ops/shape/cast.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { forceMatmulPlan, plan, splitsOf, type MatmulPlan } from '../src/tensor/ops/linear/matmul.wgsl.js';
import { parseVariant, planName } from './matmul-variants.js';

interface Opts { shapes: string; variants: string; reps: number; python: string; reference: boolean }
/**
 * `into`: C stored as that many equal blocks of columns, each its own output (linearSplit; A·Bᵀ only); `bias`: a
 * bias added as C is stored; `softplus`: a bias and softplus (Mamba's Δ). These time the stores alone: the PyTorch
 * columns are the plain product.
 */
interface Shape { spec: string; m: number; k: number; n: number; transA: boolean; transB: boolean; bDtype: 'float32' | 'bfloat16' | 'float16'; into: number; bias: boolean; softplus: boolean }

const DEFAULT_SHAPES = '2048x2048x2048:nn,2048x2048x2048:nt,512x10240x2560:nn,512x10240x2560:nt,384x2560x10240:nt,3072x2560x10240:nt,3072x5120x2560:nt,2560x3072x10240:tn,16x2560x10240:nt,16x5120x2560:nt,4096x4096x4096:nn';

function parse(spec: string): Shape {
  const m = /^(\d+)x(\d+)x(\d+):(nn|nt|tn)((?::(?:bf16|f16|into\d+|bias|softplus))*)$/.exec(spec);
  const parts = (m?.[5] ?? '').split(':').filter(Boolean);
  const into = Number(parts.find((x) => x.startsWith('into'))?.slice(4) ?? 1);
  if (!m || (into > 1 && (m[4] !== 'nt' || +m[3]! % into !== 0))) throw new Error(`--shapes: '${spec}' is not MxKxN:nn, MxKxN:nt or MxKxN:tn, optionally followed by :bf16 or :f16 (B stored in 16 bits), :intoQ (Q equal blocks of columns, nt only, Q dividing N), :bias or :softplus`);
  const bDtype = parts.includes('bf16') ? 'bfloat16' : parts.includes('f16') ? 'float16' : 'float32';
  return { spec, m: +m[1]!, k: +m[2]!, n: +m[3]!, transA: m[4] === 'tn', transB: m[4] === 'nt', bDtype, into, bias: parts.includes('bias'), softplus: parts.includes('softplus') };
}

/** One product as the shape asks: plain, with a bias or softplus, or into blocks of columns. */
function product(a: Tensor, b: Tensor, bias: Tensor | undefined, s: Shape): Tensor[] {
  if (s.into > 1) return linearSplit(a, b, new Array<number>(s.into).fill(s.n / s.into));
  return [matmul(a, b, { transA: s.transA, transB: s.transB, ...(bias && { bias }), ...(s.softplus && { activation: 'softplus' as const }) })];
}

/**
 * GPU milliseconds per product, after 0.4 s of warm-up, from timestamps written around each kernel (WebGPUBackend.timeKernels): the median
 * over `reps` products of the time of its kernels (two where the product is split along K). The host's recording
 * and the read's latency are not in it; the wall-clock time of back-to-back products, which has both, is returned too.
 */
async function time(gpu: WebGPUBackend, s: Shape, reps: number, forced: MatmulPlan | null): Promise<{ ms: number; wallMs: number }> {
  const a = randn(s.transA ? [s.k, s.m] : [s.m, s.k], 1), wide = randn(s.transB ? [s.n, s.k] : [s.k, s.n], 2);
  const b = s.bDtype === 'float32' ? wide : cast(wide, s.bDtype);
  if (b !== wide) wide.dispose();
  const bias = s.bias || s.softplus ? randn([s.n], 5) : undefined;
  forceMatmulPlan(forced);
  try {
    const run = async () => {
      for (let i = 0; i < reps; i++) for (const c of product(a, b, bias, s)) c.dispose();
      await gpu.sync();
    };
    // Keep the GPU busy for a while first: after the host's pauses (making operands) its clocks are down, and a
    // round of short products would be timed while they ramp up (the same kernel then read 10 to 30 TFLOP/s).
    // With large products: repeating a product of a few microseconds leaves the GPU mostly idle, and few-row
    // products measured first read up to 4× slower than the same plan forced right after (matmul.md, 2026-11-25 00:53).
    await heat(gpu);
    await run();
    const t0 = performance.now();
    await run();
    const wallMs = (performance.now() - t0) / reps;
    const { kernels } = await gpu.timeKernels(run);
    const per = kernels.length / reps;
    const each = Array.from({ length: reps }, (_, i) => kernels.slice(i * per, (i + 1) * per).reduce((t, k) => t + k.ms, 0));
    return { ms: median(each), wallMs };
  } finally {
    forceMatmulPlan(null);
    a.dispose(); b.dispose(); bias?.dispose();
  }
}

/** Operands of the heating products, made once: making them on the host would itself leave the GPU idle. */
let heatOperands: [Tensor, Tensor] | null = null;

/**
 * Runs 2048³ products for 0.4 s, so that the GPU's clocks are up when a measurement starts; 3 s the first time. Right
 * after the PyTorch reference left the GPU, 0.4 s was not enough: the first product timed read 9.8 TFLOP/s and the
 * same kernel 38.3 in the next run, the plans timed after it rising over some 5 s (matmul.md, 2026-12-06 05:50).
 */
async function heat(gpu: WebGPUBackend): Promise<void> {
  const first = heatOperands === null;
  const [a, b] = heatOperands ??= [randn([2048, 2048], 3), randn([2048, 2048], 4)];
  const start = performance.now();
  while (performance.now() - start < (first ? 3000 : 400)) {
    for (let i = 0; i < 10; i++) matmul(a, b).dispose();
    await gpu.sync();
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

async function main(o: Opts): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const gpu = await useBackend('webgpu', 'the backend') as WebGPUBackend;
  const shapes = o.shapes.split(',').map(parse);
  let reference: { torch: string; device: string; rows: { shape: string; dtype: string; ms: number; tflops: number }[] } | { error: string } | null = null;
  if (o.reference) {
    const out = join(mkdtempSync(join(tmpdir(), 'factlab-matmul-')), 'out.json');
    const script = fileURLToPath(new URL('../../reference/matmul_bench.py', import.meta.url));
    const r = spawnSync(o.python, [script, '--shapes', o.shapes, '--out', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    reference = r.status === 0 && existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : { error: `${o.python} exited with ${r.status ?? r.error?.message}` };
  }
  const variants = o.variants.split(',').filter(Boolean).map(parseVariant);
  const rows = [];
  for (const s of shapes) {
    const flop = 2 * s.m * s.k * s.n;
    const dims = { batch: 1, m: s.m, k: s.k, n: s.n, transA: s.transA, transB: s.transB, strideA: 0, strideB: 0 };
    const chosen = plan(dims);
    const { ms, wallMs } = await time(gpu, s, o.reps, null);
    const tried = [];
    // The few-row kernel takes A·Bᵀ only.
    for (const v of variants.filter((x) => x.kind !== 'rows' || s.transB)) {
      let p: MatmulPlan = v;
      // A split variant takes the split the plan would choose for its tiles.
      if (v.kind !== 'rows') { const { split, ...rest } = v; p = { ...rest, splits: split ? splitsOf(dims, rest) : v.splits }; }
      const t = await time(gpu, s, o.reps, p);
      tried.push({ plan: planName(p), ms: t.ms, tflops: flop / t.ms / 1e9 });
    }
    rows.push({ shape: s.spec, plan: planName(chosen), ms, wallMs, tflops: flop / ms / 1e9, variants: tried });
    console.error(JSON.stringify(rows.at(-1)));
  }
  const { date, commit, machine, command } = benchContext(loadAtStart);
  const ref = reference && 'rows' in reference ? reference : null;
  const refCell = (shape: string, dtype: string) => {
    const r = ref?.rows.find((x) => x.shape === shape && x.dtype === dtype);
    return r ? `${r.tflops.toFixed(1)} (${r.ms.toFixed(3)} ms)` : '–';
  };
  const md = [
    `### ${date.slice(0, 16).replace('T', ' ')} UTC — ${gpu.description}; ${ref ? `torch ${ref.torch} on ${ref.device}` : `reference: ${reference ? (reference as { error: string }).error : 'not run'}`}; ${machine.cpu}, ${machine.cores} cores; commit ${commit}${process.env.FACTLAB_DAWN_ENABLE ? `; Dawn toggles enabled: ${process.env.FACTLAB_DAWN_ENABLE}` : ''}${process.env.FACTLAB_DAWN_DISABLE ? `; Dawn toggles disabled: ${process.env.FACTLAB_DAWN_DISABLE}` : ''}`,
    '',
    `Command: \`${command}\`. TFLOP/s of one float32 product: GPU time of its kernels from timestamps, median of ${o.reps}; the wall-clock time of back-to-back products (host recording included) in the second column. PyTorch: wall-clock over 50 back to back after synchronising, best of 3, TF32 off. "nt" is A·Bᵀ (a linear layer), "nn" A·B, "tn" Aᵀ·B (a weight's gradient); a ":bf16" suffix marks B stored in bfloat16, widened as it is read; ":intoQ" stores C as Q equal blocks of columns, each its own output (linearSplit), ":bias" adds a bias as C is stored and ":softplus" a bias and softplus (Mamba's Δ). The PyTorch columns are always the plain product.`,
    '',
    '| M×K×N | factlab (its plan) | factlab wall per product | other tile plans | PyTorch float32 | PyTorch bfloat16 | factlab ÷ PyTorch float32 |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const f32 = ref?.rows.find((x) => x.shape === r.shape && x.dtype === 'float32');
      return `| ${r.shape} | ${r.tflops.toFixed(1)} (${r.ms.toFixed(3)} ms; ${r.plan}) | ${r.wallMs.toFixed(3)} ms | ${r.variants.map((v) => `${v.plan}: ${v.tflops.toFixed(1)}`).join('; ') || '–'} | ${refCell(r.shape, 'float32')} | ${refCell(r.shape, 'bfloat16')} | ${f32 ? `${(f32.ms / r.ms).toFixed(2)}×` : '–'} |`;
    }),
    '',
  ].join('\n');
  writeBenchRecord('matmul', 'gpu', date, { date, command, commit, machine, device: gpu.description, reps: o.reps, rows, reference }, md);
}

await new Command('matmul')
  .description('float32 matmul throughput on the GPU, factlab beside PyTorch')
  .option('--shapes <list>', 'MxKxN:nn|nt|tn[:bf16|:f16][:intoQ][:bias|:softplus], comma-separated', DEFAULT_SHAPES)
  .option('--variants <list>', 'forced tile plans TMxBK[nTN: TN columns per invocation][wTHREADS: invocations][s: split K as planned, sN: in N][v, va, vb: vec4 reads of both, A, B][d: two buffers][p, pa, pb: prefetch of both, A, B][u: no bounds checks where tiles are whole][c: K and N constants in the source] to time beside the chosen one', '8x8s,8x16s,4x16s,8x8,4x16')
  .option('--reps <n>', 'products per round', (v) => Number(v), 50)
  .option('--python <path>', 'python with torch', process.env.FACTLAB_PYTHON ?? 'python3')
  .option('--no-reference', 'time factlab only')
  .action(main)
  .parseAsync();
