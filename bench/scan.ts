/**
 * Throughput of the fused selective scan at Mamba-2.8b's sizes (D = 5120, N = 16) on short prompts (L = 16), for
 * one sequence and for a batch of 32: element·states per second (B·L·D·N per call), forward alone and forward plus
 * backward (the gradient of all six inputs, as ROME's v* optimisation and attribution need).
 * Run: `node dist/bench/scan.js` after `npm run build`, or call `benchScan()`.
 */
import { randUniform, tensor, tidy, vjp, selectiveScan, type Tensor } from '../src/tensor/index.js';

export interface ScanBenchRow {
  B: number; L: number; D: number; N: number;
  /** Median milliseconds per call. */
  forwardMs: number; forwardBackwardMs: number;
  /** B·L·D·N per second. */
  forwardPerS: number; forwardBackwardPerS: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void, reps: number): number {
  fn(); // the first call compiles (V8 tiers WebAssembly and JS up lazily)
  const ms: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

export function benchScan(sizes: readonly { B: number; L?: number; D?: number; N?: number }[] = [{ B: 1 }, { B: 32 }], reps = 5): ScanBenchRow[] {
  const rows: ScanBenchRow[] = [];
  for (const { B, L = 16, D = 5120, N = 16 } of sizes) {
    const inputs: Tensor[] = [
      randUniform([B, L, D], 1, -1, 1), randUniform([B, L, D], 2, 0.001, 0.5), randUniform([D, N], 3, -16, -1),
      randUniform([B, L, N], 4, -1, 1), randUniform([B, L, N], 5, -1, 1), randUniform([D], 6, -1, 1),
    ];
    const [x, dt, A, Bm, C, Dk] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
    const seed = tensor(new Float32Array(B * L * D).fill(1), [B, L, D]);
    const forwardMs = time(() => tidy(() => { selectiveScan(x, dt, A, Bm, C, Dk); }), reps);
    const forwardBackwardMs = time(() => tidy(() => {
      const v = vjp(() => selectiveScan(x, dt, A, Bm, C, Dk), inputs);
      try { v.pullback(seed); } finally { v.value.dispose(); v.dispose(); }
    }), reps);
    for (const t of [...inputs, seed]) t.dispose();
    const es = B * L * D * N;
    rows.push({ B, L, D, N, forwardMs, forwardBackwardMs, forwardPerS: es / (forwardMs / 1e3), forwardBackwardPerS: es / (forwardBackwardMs / 1e3) });
  }
  return rows;
}

export function formatScanBench(rows: readonly ScanBenchRow[]): string {
  const g = (v: number) => `${(v / 1e9).toFixed(3)} G/s`;
  return rows.map((r) => `selectiveScan B=${r.B} L=${r.L} D=${r.D} N=${r.N}: forward ${r.forwardMs.toFixed(1)} ms (${g(r.forwardPerS)} element·states), ` +
    `forward+backward ${r.forwardBackwardMs.toFixed(1)} ms (${g(r.forwardBackwardPerS)})`).join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(formatScanBench(benchScan()));
