/**
 * Selective-scan cases for bench/engine.ts: throughput of the fused scan at Mamba-2.8b's sizes (D = 5120, N = 16) on
 * short prompts (L = 16), for one sequence and a batch of 32, counted in element·states (B·L·D·N per call) per
 * second: the forward alone, and the forward plus the backward of all six inputs (what ROME's v* optimisation and
 * gradient attribution pay per layer). Both include copying the operands into wasm memory and back.
 * Run: `npm run bench -- selectiveScan`.
 */
import type { BenchCase } from './engine.js';
import { randUniform, tensor, tidy, vjp, selectiveScan, type Tensor } from '../src/tensor/index.js';

function scanInputs(B: number, L: number, D: number, N: number): Tensor[] {
  // Δ and A in the ranges a trained Mamba gives them (softplus outputs, −exp(A_log) from S4D-real init).
  return [
    randUniform([B, L, D], 1, -1, 1), randUniform([B, L, D], 2, 0.001, 0.5), randUniform([D, N], 3, -16, -1),
    randUniform([B, L, N], 4, -1, 1), randUniform([B, L, N], 5, -1, 1), randUniform([D], 6, -1, 1),
  ];
}

function scanCase(B: number, backward: boolean, threads: number, L = 16, D = 5120, N = 16): BenchCase {
  return {
    name: `selectiveScan ${backward ? 'forward+backward' : 'forward'} B=${B} L=${L} D=${D} N=${N}`,
    threads,
    work: B * L * D * N,
    unit: 'G element·states/s',
    prepare() {
      const inputs = scanInputs(B, L, D, N);
      const [x, dt, A, Bm, C, Dk] = inputs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
      if (!backward) return () => tidy(() => { selectiveScan(x, dt, A, Bm, C, Dk); });
      const seed = tensor(new Float32Array(B * L * D).fill(1), [B, L, D]);
      return () => tidy(() => {
        const v = vjp(() => selectiveScan(x, dt, A, Bm, C, Dk), inputs);
        try { v.pullback(seed); } finally { v.value.dispose(); v.dispose(); }
      });
    },
  };
}

export function scanBenchCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const threads of [1, 2]) for (const B of [1, 32]) for (const backward of [false, true]) cases.push(scanCase(B, backward, threads));
  return cases;
}
