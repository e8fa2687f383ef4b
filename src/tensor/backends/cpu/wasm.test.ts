import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  arenaAlloc, arenaReset, callKernel, kernelFunction, matmulCpu, parallelFor, planMatmul, setArenaBudget, setThreadCount,
  wasmF32, wasmI32, type MatmulOptions,
} from './wasm.js';

// Deterministic inputs (an LCG), so a failure reproduces.
function rand(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 32 - 0.5;
  }
  return x;
}

// float64 triple loop; also returns Σ|a·b| per element, the scale of float32 rounding error.
function naive(a: Float32Array, b: Float32Array, o: MatmulOptions): { c: Float64Array; scale: Float64Array } {
  const { batch, m, k, n, transA, transB, strideA, strideB } = o;
  const c = new Float64Array(batch * m * n), scale = new Float64Array(batch * m * n);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, t = 0;
        for (let p = 0; p < k; p++) {
          const v = a[z * strideA + (transA ? p * m + i : i * k + p)]! * b[z * strideB + (transB ? j * k + p : p * n + j)]!;
          s += v;
          t += Math.abs(v);
        }
        c[(z * m + i) * n + j] = s;
        scale[(z * m + i) * n + j] = t;
      }
    }
  }
  return { c, scale };
}

interface Case { batch?: number; m: number; k: number; n: number; transA?: boolean; transB?: boolean; shareA?: boolean; shareB?: boolean; pad?: number; accumulate?: boolean }

// Runs one case against the reference; `pad` puts the operands at an offset inside larger buffers with gaps
// between batch items, as views of a bigger tensor would be.
function check({ batch = 1, m, k, n, transA = false, transB = false, shareA = false, shareB = false, pad = 0, accumulate = false }: Case, seed = 1): void {
  const strideA = shareA ? 0 : m * k + pad, strideB = shareB ? 0 : k * n + pad;
  const o: MatmulOptions = { batch, m, k, n, transA, transB, strideA, strideB, accumulate };
  const aLen = (batch - 1) * strideA + m * k, bLen = (batch - 1) * strideB + k * n;
  const a = rand(aLen + 2 * pad, seed).subarray(pad, pad + aLen);
  const b = rand(bLen + 2 * pad, seed + 7).subarray(pad, pad + bLen);
  const init = rand(batch * m * n, seed + 13);
  const out = init.slice();
  matmulCpu(a, b, out, o);
  const { c, scale } = naive(a, b, o);
  for (let i = 0; i < c.length; i++) {
    const want = c[i]! + (accumulate ? init[i]! : 0);
    const tol = 2e-6 * (scale[i]! + Math.abs(want)) + 1e-7 * Math.sqrt(k + 1);
    if (!(Math.abs(out[i]! - want) <= tol)) {
      assert.fail(`${JSON.stringify(o)}: element ${i} is ${out[i]}, expected ${want} (tolerance ${tol})`);
    }
  }
}

const odd = [1, 3, 7, 17, 33, 65];

function withThreads(n: number, fn: () => void): void {
  setThreadCount(n);
  try { fn(); } finally { setThreadCount(undefined); }
}

function withBudget(bytes: number, fn: () => void): void {
  setArenaBudget(bytes);
  try { fn(); } finally { setArenaBudget(undefined); }
}

test('matmul: all transpose combinations over odd sizes', () => {
  withThreads(1, () => {
    for (const transA of [false, true]) for (const transB of [false, true]) {
      for (const m of odd) for (const n of odd) for (const k of [1, 7, 33, 65]) check({ m, k, n, transA, transB }, m * 100 + n + k);
    }
  });
});

test('matmul: sizes across the block boundaries of the kernel (k > 256, m > 128, n > 512)', () => {
  withThreads(1, () => {
    check({ m: 131, k: 259, n: 9 });
    check({ m: 5, k: 513, n: 521, transB: true });
    check({ m: 129, k: 257, n: 517, transA: true });
    // Aᵀ·Bᵀ and A·Bᵀ above and below the row count where B is no longer packed, across its k and n blocks.
    check({ m: 131, k: 259, n: 9, transA: true, transB: true });
    check({ m: 129, k: 33, n: 65, transB: true });
    check({ m: 128, k: 2100, n: 70, transA: true, transB: true });
    check({ m: 6, k: 2100, n: 131, transB: true, accumulate: true });
  });
});

test('matmul: batched, with broadcast operands (stride 0) and padded strides', () => {
  withThreads(1, () => {
    for (const transA of [false, true]) for (const transB of [false, true]) {
      check({ batch: 3, m: 7, k: 17, n: 33, transA, transB });
      check({ batch: 3, m: 7, k: 17, n: 33, transA, transB, shareA: true });
      check({ batch: 3, m: 7, k: 17, n: 33, transA, transB, shareB: true });
      check({ batch: 4, m: 3, k: 5, n: 9, transA, transB, pad: 5 });
      check({ batch: 2, m: 65, k: 3, n: 1, transA, transB, shareA: true, shareB: true });
    }
  });
});

test('matmul: accumulate adds to out', () => {
  withThreads(1, () => {
    check({ m: 33, k: 65, n: 17, accumulate: true });
    check({ batch: 2, m: 5, k: 300, n: 9, transA: true, transB: true, accumulate: true });
  });
});

test('matmul: degenerate sizes (k = 0, empty batch)', () => {
  const out = new Float32Array([1, 2, 3, 4]);
  matmulCpu(new Float32Array(0), new Float32Array(0), out, { batch: 1, m: 2, k: 0, n: 2, transA: false, transB: false, strideA: 0, strideB: 0, accumulate: true });
  assert.deepEqual([...out], [1, 2, 3, 4]);
  matmulCpu(new Float32Array(0), new Float32Array(0), out, { batch: 1, m: 2, k: 0, n: 2, transA: false, transB: false, strideA: 0, strideB: 0 });
  assert.deepEqual([...out], [0, 0, 0, 0]);
  matmulCpu(new Float32Array(0), new Float32Array(0), new Float32Array(0), { batch: 0, m: 2, k: 3, n: 2, transA: false, transB: false, strideA: 6, strideB: 6 });
});

test('matmul: two threads, splitting batch, rows and columns (each above the threading threshold)', () => {
  withThreads(2, () => {
    for (const transA of [false, true]) for (const transB of [false, true]) {
      check({ batch: 4, m: 65, k: 257, n: 63, transA, transB }); // batch items
      check({ m: 513, k: 129, n: 37, transA, transB }); // rows
      check({ m: 37, k: 129, n: 515, transA, transB, accumulate: true }); // columns
    }
    check({ batch: 3, m: 67, k: 301, n: 131, shareB: true, pad: 3 });
  });
});

test('matmul: chunking under a tiny arena budget (batch groups, rows, columns, k)', () => {
  const scratch = Number(kernelFunction('matmulScratchBytes')());
  for (const threads of [1, 2]) {
    withThreads(threads, () => {
      // Room for a little more than one of 5 items of 9·40 + 40·11 + 9·11 floats: batch groups.
      withBudget(threads * scratch + 4 * 2000, () => {
        check({ batch: 5, m: 9, k: 40, n: 11 });
        check({ batch: 5, m: 9, k: 40, n: 11, transA: true, shareB: true, accumulate: true });
      });
      // Less than one item: rows, columns and finally k are cut, for every layout.
      for (const floats of [3000, 600, 100]) {
        withBudget(threads * scratch + 4 * floats, () => {
          for (const transA of [false, true]) for (const transB of [false, true]) {
            check({ batch: 2, m: 33, k: 65, n: 17, transA, transB, pad: 2 });
            check({ m: 17, k: 70, n: 65, transA, transB, accumulate: true });
          }
        });
      }
    });
  }
});

test('matmul kernel: writes stay inside the matmulScratchBytes() of its scratch (threads get adjacent ones)', () => {
  const scratchBytes = Number(kernelFunction('matmulScratchBytes')());
  const kernel = kernelFunction('matmulF32');
  const k = 2100, n = 70, canary = 4096;
  for (const m of [1, 5, 128, 129]) for (const transA of [0, 1]) for (const transB of [0, 1]) {
    arenaReset();
    const a = arenaAlloc(m * k * 4), b = arenaAlloc(k * n * 4), c = arenaAlloc(m * n * 4);
    const scratch = arenaAlloc(scratchBytes), guard = arenaAlloc(canary);
    wasmF32(a, m * k).set(rand(m * k, 1));
    wasmF32(b, k * n).set(rand(k * n, 2));
    wasmI32(guard, canary / 4).fill(0x7fc0dead);
    kernel(a, b, c, scratch, m, k, n, transA, transB, 0, 0, 0, 0, 1, 0, m, 0, n);
    assert.ok(wasmI32(guard, canary / 4).every((x) => x === 0x7fc0dead), `m=${m} transA=${transA} transB=${transB} wrote past its scratch`);
  }
});

test('matmul: chunk planning keeps chunks within the budget', () => {
  for (const [batch, m, k, n, budget] of [[1, 16, 2560, 50280, 100e6], [4, 512, 10240, 2560, 20e6], [1, 100000, 64, 100000, 50e6], [3, 5, 1e6, 3, 1e5]] as const) {
    const p = planMatmul(batch, m, k, n, false, false, budget);
    assert.ok(p.g * (p.mc * p.kc + p.kc * p.nc + p.mc * p.nc) <= budget, JSON.stringify({ batch, m, k, n, budget, p }));
    assert.ok(p.g >= 1 && p.mc >= 1 && p.kc >= 1 && p.nc >= 1);
  }
  assert.deepEqual(planMatmul(8, 10, 10, 10, false, true, 1000), { g: 4, mc: 10, kc: 10, nc: 10 });
});

test('matmul: invalid arguments name the operand and the sizes', () => {
  const o = { batch: 2, m: 3, k: 4, n: 5, transA: false, transB: true, strideA: 12, strideB: 20 };
  assert.throws(() => matmulCpu(new Float32Array(23), new Float32Array(40), new Float32Array(30), o), /A has 23 elements, needs 24 .*m=3 k=4 n=5/);
  assert.throws(() => matmulCpu(new Float32Array(24), new Float32Array(40), new Float32Array(29), o), /out has 29 elements, needs 30/);
  assert.throws(() => matmulCpu(new Float32Array(24), new Float32Array(40), new Float32Array(30), { ...o, m: 2.5 }), /m must be a non-negative integer/);
});

test('callKernel: f32 and i32 inputs, in/out output, zero-filled scratch, scalars, split over 1 and 2 threads', () => {
  const n = 1001;
  const x = rand(n, 3);
  const y = Int32Array.from({ length: n }, (_, i) => i % 7 - 3);
  for (const threads of [1, 2]) {
    withThreads(threads, () => {
      const out = rand(n, 5);
      const want = out.map((v, i) => v + 2.5 * x[i]! + y[i]!);
      for (let rep = 0; rep < 2; rep++) {
        const got = out.slice();
        callKernel('kernelSelfTest', { inputs: [x, y], outputs: [got], scratchBytes: 16, scalars: [2.5], split: { units: n, minUnitsPerThread: 100 } });
        for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `thread count ${threads}, element ${i}: ${got[i]} vs ${want[i]}`);
      }
      const zeroed = out.slice();
      callKernel('kernelSelfTest', { inputs: [x, y], outputs: [zeroed], zeroOutputs: true, scratchBytes: 16, scalars: [1], split: { units: n } });
      for (let i = 0; i < n; i++) assert.ok(Math.abs(zeroed[i]! - (x[i]! + y[i]!)) < 1e-6);
    });
  }
});

test('callKernel: unknown kernels and over-budget operands are clear errors', () => {
  assert.throws(() => callKernel('noSuchKernel', { inputs: [], outputs: [] }), /kernel "noSuchKernel" is not exported .*matmulF32/);
  withBudget(1024, () => {
    assert.throws(() => callKernel('kernelSelfTest', { inputs: [new Float32Array(300), new Int32Array(300)], outputs: [new Float32Array(300)], scratchBytes: 16, scalars: [1], split: { units: 300 } }),
      /kernel kernelSelfTest: .* over the wasm arena budget/);
  });
});

test('threads: a trap in a worker surfaces as an error naming the kernel, and the pool keeps working', () => {
  withThreads(2, () => {
    // The second share points far outside the memory, so the worker traps.
    arenaReset();
    const p = arenaAlloc(64);
    const bad = 0xfffff000;
    assert.throws(
      () => parallelFor('kernelSelfTest', 2, (s, e, t) => (t === 0 ? [p, p, p, p, 1, s, s] : [bad, bad, bad, p, 1, s, e]), { threads: 2 }),
      /kernel kernelSelfTest failed in worker thread 1: RuntimeError: memory access out of bounds/,
    );
    check({ m: 513, k: 129, n: 37 });
  });
});

test('threads: a worker that does not finish in time is a clear error, and a fresh pool replaces it', async () => {
  const n = 4_000_000;
  setThreadCount(2);
  process.env.FACTLAB_THREAD_TIMEOUT_MS = '1';
  try {
    arenaReset();
    const x = arenaAlloc(n * 4), y = arenaAlloc(n * 4), out = arenaAlloc(n * 4), s = arenaAlloc(64);
    // The main share is empty, the worker's takes milliseconds: the 1 ms timeout expires first.
    assert.throws(
      () => parallelFor('kernelSelfTest', n, (start, end, t) => [x, y, out, s + 16 * t, 1, t === 0 ? 0 : 1, t === 0 ? 0 : n], { threads: 2 }),
      /kernel kernelSelfTest: worker thread 1 did not finish within 1 ms .*pool was discarded/,
    );
  } finally {
    delete process.env.FACTLAB_THREAD_TIMEOUT_MS;
  }
  // Let the abandoned worker stop before the arena is reused.
  await new Promise((resolve) => setTimeout(resolve, 300));
  try {
    check({ m: 513, k: 129, n: 37 });
  } finally {
    setThreadCount(undefined);
  }
});
