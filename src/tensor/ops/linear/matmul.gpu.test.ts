/**
 * Every tile plan and few-row plan of the WGSL matmul (matmul.wgsl.ts), forced, against the CPU backend's product: the ops suite
 * covers the plans that shapes choose by themselves; benchmarks also time the others.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGPU } from '../../backends/webgpu/webgpu-backend.js';
import { cpuBackend } from '../../backends/cpu/cpu-backend.js';
import { tensor } from '../../creation.js';
import { values } from '../../testing/reference.js';
import { linearSplit, matmul, type ProductOptions } from './matmul.js';
import { forceMatmulPlan, plan, tileShape, validTilePlan, wholeTiles, type MatmulPlan, type TilePlan } from './matmul.wgsl.js';
import type { RowsPlan } from './matmul-rows.wgsl.js';

const gpu = await initWebGPU();
const every = [[false, false], [false, true], [true, false], [true, true]] as const;
// Deeper slabs unroll into large kernels that take lavapipe seconds to compile: those run in one layout only.
const plans: [TilePlan, readonly (readonly [boolean, boolean])[]][] = [
  [{ tm: 8, bk: 8, splits: 1 }, every], [{ tm: 8, bk: 8, splits: 3 }, every], [{ tm: 4, bk: 16, splits: 1 }, every],
  [{ tm: 4, bk: 16, splits: 2 }, every], [{ tm: 8, bk: 16, splits: 2 }, [[false, true]]],
  [{ tm: 8, bk: 8, splits: 1, vec4: 'both', double: true }, every], [{ tm: 8, bk: 8, splits: 3, vec4: 'a' }, every], [{ tm: 8, bk: 8, splits: 1, vec4: 'b' }, every],
  [{ tm: 4, bk: 16, splits: 2, vec4: 'both', double: true }, every], [{ tm: 8, bk: 8, splits: 1, double: true }, [[true, false]]],
  // Invocations holding more rows than columns or the reverse, fewer invocations, and the prefetching inner loop.
  [{ tm: 16, tn: 8, threads: 128, bk: 8, splits: 1, vec4: 'both', prefetch: 'both' }, every], [{ tm: 8, tn: 16, threads: 128, bk: 8, splits: 2, vec4: 'b' }, [[false, false], [true, true]]],
  [{ tm: 8, threads: 128, bk: 8, splits: 1, prefetch: 'a', double: true }, [[false, true], [true, false]]],
  [{ tm: 8, bk: 8, splits: 3, vec4: 'both', prefetch: 'both' }, every], [{ tm: 16, tn: 4, threads: 64, bk: 4, splits: 1, prefetch: 'b' }, [[false, true]]],
];
// Odd sizes exercise every edge guard and turn vec4 reads off; sizes that are multiples of 4 turn them on.
const sizes = [[70, 150, 133], [68, 152, 132]] as const;

/**
 * The product under plan `p` on the GPU against the CPU's, to 1e-4; `biasValues`: a bias of the N columns;
 * `columns`: the output cut into blocks of these widths (linearSplit, B transposed).
 */
async function agreesWithCpu(p: MatmulPlan, a: { values: number[]; shape: number[] }, b: { values: number[]; shape: number[] }, opts: ProductOptions & { biasValues?: number[]; columns?: number[] }, label: string): Promise<void> {
  const on = async (backend: typeof gpu | typeof cpuBackend) => {
    const bias = opts.biasValues && tensor(opts.biasValues, [opts.biasValues.length], { backend });
    const A = tensor(a.values, a.shape, { backend }), B = tensor(b.values, b.shape, { backend });
    const outs = opts.columns ? linearSplit(A, B, opts.columns, bias) : [matmul(A, B, { transA: opts.transA, transB: opts.transB, ...(bias && { bias }) })];
    return (await Promise.all(outs.map((o) => o.data()))).flatMap((d) => Array.from(d as Float32Array));
  };
  const want = await on(cpuBackend);
  forceMatmulPlan(p);
  try {
    const got = await on(gpu);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    assert.ok(worst < 1e-4, `${label}: largest difference ${worst}`);
  } finally {
    forceMatmulPlan(null);
  }
}

for (const [p, layouts] of plans) {
  const { rows, cols, threads } = tileShape(p);
  const extras = `${p.vec4 ? `, vec4 reads of ${p.vec4}` : ''}${p.double ? ', two buffers' : ''}${p.prefetch ? `, prefetch of ${p.prefetch}` : ''}`;
  test(`matmul with ${rows}×${cols} tiles of ${threads} invocations, BK ${p.bk}, ${p.splits} K split(s)${extras} equals the CPU product`, async () => {
    assert.ok(validTilePlan(p));
    for (const [m, k, n] of p.vec4 ? sizes : sizes.slice(0, 1)) for (const [tA, tB] of layouts) {
      await agreesWithCpu(p, { values: values(m * k, 3), shape: tA ? [k, m] : [m, k] }, { values: values(k * n, 4), shape: tB ? [n, k] : [k, n] },
        { transA: tA, transB: tB, ...(tA && tB && { biasValues: values(n, 5) }), ...(!tA && tB && { columns: [n - 40, 30, 10] }) }, `${m}x${k}x${n} tA=${tA} tB=${tB}`);
    }
  });
}

// Plans without bounds checks: on whole tiles they run unchecked (wholeTiles), on ragged ones the checked code.
test('matmul plans without bounds checks equal the CPU product on whole tiles and fall back on ragged ones', async () => {
  const unchecked: TilePlan[] = [
    { tm: 8, bk: 8, splits: 2, vec4: 'both', unchecked: true }, { tm: 8, bk: 8, splits: 1, vec4: 'b', prefetch: 'both', unchecked: true },
    { tm: 4, bk: 16, splits: 1, unchecked: true },
  ];
  for (const p of unchecked) for (const [m, k, n] of [[128, 64, 256], [70, 150, 133]] as const) for (const [tA, tB] of every) {
    const dims = { batch: 1, m, k, n, transA: tA, transB: tB, strideA: 0, strideB: 0 };
    assert.equal(wholeTiles(dims, p), m === 128, `${m}x${k}x${n} is ${m === 128 ? '' : 'not '}whole tiles`);
    await agreesWithCpu(p, { values: values(m * k, 3), shape: tA ? [k, m] : [m, k] }, { values: values(k * n, 4), shape: tB ? [n, k] : [k, n] },
      { transA: tA, transB: tB, ...(tA && tB && { biasValues: values(n, 5) }), ...(!tA && tB && { columns: [n - 40, 30, 10] }) }, `unchecked ${JSON.stringify(p)} ${m}x${k}x${n} tA=${tA} tB=${tB}`);
  }
});

// Plans with K and N written into the source: one kernel per shape, so each shape in turn (batched ones too, whose
// strides are baked) must get its own, checked or not.
test('matmul plans with constant K and N equal the CPU product, each shape with its own kernel', async () => {
  const baked: TilePlan[] = [
    { tm: 8, bk: 8, splits: 3, vec4: 'both', constants: true }, { tm: 8, bk: 8, splits: 1, vec4: 'b', prefetch: 'both', unchecked: true, constants: true },
  ];
  for (const p of baked) for (const [batch, m, k, n] of [[1, 128, 64, 256], [2, 128, 72, 128], [1, 70, 150, 133], [2, 68, 152, 132]] as const) for (const [tA, tB] of every) {
    await agreesWithCpu(p, { values: values(batch * m * k, 3), shape: tA ? [batch, k, m] : [batch, m, k] }, { values: values(batch * k * n, 4), shape: tB ? [batch, n, k] : [batch, k, n] },
      { transA: tA, transB: tB }, `constants ${JSON.stringify(p)} ${batch}×${m}x${k}x${n} tA=${tA} tB=${tB}`);
  }
});

// The few-row kernel (A·Bᵀ only), forced: every lane and column count, rows that fill a block, leave it ragged
// or need a second block, odd K (scalar reads) and K a multiple of 4 (vec4 reads), A transposed or not, batches,
// with and without a bias.
const rowsPlans: RowsPlan[] = [32, 64, 128, 256].flatMap((lanes) => [1, 2, 4].map((cols) => ({ kind: 'rows' as const, lanes, cols })));
test('the few-row matmul kernel equals the CPU product under every plan', async () => {
  const shapes = [[1, 9, 5], [5, 1500, 70], [16, 64, 37], [20, 36, 9], [3, 8, 260]] as const;
  for (const p of rowsPlans) for (const [m, k, n] of shapes) for (const tA of [false, true]) for (const batch of [1, 2]) {
    await agreesWithCpu(p, { values: values(batch * m * k, 3), shape: tA ? [batch, k, m] : [batch, m, k] }, { values: values(batch * k * n, 4), shape: [batch, n, k] },
      { transA: tA, transB: true, ...(batch === 2 && { biasValues: values(n, 5) }) }, `${p.lanes} lanes × ${p.cols} columns, ${batch}×${m}x${k}x${n} tA=${tA}`);
  }
  // Blocks of output columns (linearSplit): rank-2 operands only.
  for (const p of rowsPlans) {
    await agreesWithCpu(p, { values: values(20 * 36, 6), shape: [20, 36] }, { values: values(36 * 10, 7), shape: [10, 36] }, { transB: true, columns: [3, 2, 5], biasValues: values(10, 8) }, `${p.lanes} lanes × ${p.cols} columns, 3 blocks`);
  }
});

test('few-row products pick the few-row kernel, others the tiles', () => {
  const d = { batch: 1, k: 2560, n: 10240, transA: false, transB: true, strideA: 0, strideB: 0 };
  assert.deepEqual(plan({ ...d, m: 16 }), { kind: 'rows', lanes: 32, cols: 4 });
  assert.equal(plan({ ...d, m: 17 }).kind ?? 'tiles', 'tiles');
  assert.equal(plan({ ...d, m: 16, transB: false }).kind ?? 'tiles', 'tiles');
  // Few columns (Mamba's x_proj, 192 of them) spread K over more lanes to keep the GPU busy.
  assert.deepEqual(plan({ ...d, m: 16, k: 5120, n: 192 }), { kind: 'rows', lanes: 256, cols: 4 });
  // Too few tiles for the GPU are split along K, so that the busiest multiprocessor has the least to do: 80 and 160
  // tiles in three (240 and 480 workgroups), 120 in two; 200 and 256 tiles are not split, nor is K under 512.
  const splits = (m: number, k: number, n: number) => (plan({ ...d, m, k, n }) as { splits: number }).splits;
  assert.equal(splits(512, 5120, 2560), 3);
  assert.equal(splits(768, 5120, 2560), 2);
  assert.equal(splits(1024, 5120, 2560), 3);
  assert.equal(splits(1280, 5120, 2560), 1);
  assert.equal(splits(2048, 2048, 2048), 1);
  assert.equal(splits(64, 500, 64), 1);
});
