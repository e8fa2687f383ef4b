import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyTypedArray, DType } from '../dtype.js';
import type { Backend, Storage } from '../backends/backend.js';
import { cpuBackend } from '../backends/cpu/cpu-backend.js';
import { tensor } from '../creation.js';
import { FactlabError } from '../errors.js';
import { liveTensors } from '../lifetime.js';
import { Rng } from '../random.js';
import type { Tensor } from '../tensor.js';
import { build, gaussSolve, maxAbs, maxAbsDiff, naiveMatmul, naiveTranspose } from './naive.js';
import { lowRank, pinv, solveSpd, svd } from './tensor-api.js';

/** A backend that, like WebGPU, can only be read asynchronously and is not the CPU backend. */
class AsyncOnlyBackend implements Backend {
  readonly name = 'async-test';
  private bytes = 0;
  alloc(dtype: DType, size: number): Storage & { data: AnyTypedArray } {
    this.bytes += size * 4;
    return { backend: this, dtype, size, refs: 0, data: new Float32Array(size) };
  }
  upload(dtype: DType, data: AnyTypedArray): Storage {
    const s = this.alloc(dtype, data.length);
    s.data.set(data as never);
    return s;
  }
  async read(storage: Storage, offset: number, size: number): Promise<AnyTypedArray> {
    await new Promise((r) => setImmediate(r));
    return (storage as Storage & { data: AnyTypedArray }).data.slice(offset, offset + size);
  }
  free(storage: Storage): void { this.bytes -= storage.size * 4; }
  allocatedBytes(): number { return this.bytes; }
}

function randn(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

function spd(n: number, seed: number): Float64Array {
  const x = Float64Array.from(randn(n * (n + 3), seed));
  const c = naiveMatmul(x, naiveTranspose(x, n, n + 3), n, n + 3, n);
  // Rounded to float32 here so that the reference solves exactly the matrix the tensor carries.
  return Float64Array.from(Float32Array.from(c, (v) => v / (n + 3)));
}

async function f64(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

test('solveSpd: vector and matrix right-hand sides, with and without a ridge', async () => {
  const before = liveTensors();
  const n = 24;
  const c64 = spd(n, 1);
  const C = tensor(Float32Array.from(c64), [n, n]);
  const k = tensor(randn(n, 2), [n]);
  const u = await solveSpd(C, k);
  assert.deepEqual(u.shape, [n]);
  assert.equal(u.dtype, 'float32');
  const ref = gaussSolve(c64, await f64(k), n, 1);
  assert.ok(maxAbsDiff(await f64(u), ref) <= 1e-5 * maxAbs(ref));

  const K = tensor(randn(n * 3, 3), [n, 3]);
  const U = await solveSpd(C, K, { ridge: 0.5 });
  assert.deepEqual(U.shape, [n, 3]);
  const shifted = Float64Array.from(c64);
  for (let i = 0; i < n; i++) shifted[i * n + i] += 0.5;
  const refR = gaussSolve(shifted, await f64(K), n, 3);
  assert.ok(maxAbsDiff(await f64(U), refR) <= 1e-5 * maxAbs(refR));
  for (const t of [C, k, u, K, U]) t.dispose();
  assert.equal(liveTensors(), before);
});

test('svd, lowRank, pinv: shapes, reconstruction and Moore–Penrose on float32 tensors', async () => {
  const before = liveTensors();
  for (const [m, n] of [[12, 7], [7, 12], [9, 9]] as [number, number][]) {
    const W = tensor(randn(m * n, m + n), [m, n]);
    const w = await f64(W);
    const k = Math.min(m, n);
    const { U, S, V } = await svd(W);
    assert.deepEqual([U.shape, S.shape, V.shape], [[m, k], [k], [n, k]]);
    const u = await f64(U), s = await f64(S), v = await f64(V);
    const rec = naiveMatmul(build(m, k, (i, j) => u[i * k + j]! * s[j]!), naiveTranspose(v, n, k), m, k, n);
    assert.ok(maxAbsDiff(rec, w) <= 1e-5 * maxAbs(w), `[${m},${n}] UΣVᵀ`);

    const Wr = await lowRank(W, 2);
    assert.deepEqual(Wr.shape, [m, n]);
    const wr = naiveMatmul(build(m, 2, (i, j) => u[i * k + j]! * s[j]!), build(2, n, (i, j) => v[j * k + i]!), m, 2, n);
    assert.ok(maxAbsDiff(await f64(Wr), wr) <= 1e-5 * maxAbs(w), `[${m},${n}] W_2`);

    const P = await pinv(W);
    assert.deepEqual(P.shape, [n, m]);
    const p = await f64(P);
    const wpw = naiveMatmul(naiveMatmul(w, p, m, n, m), w, m, m, n);
    assert.ok(maxAbsDiff(wpw, w) <= 1e-4 * maxAbs(w), `[${m},${n}] W·P·W`);
    const Pr = await pinv(W, { rank: 3 });
    assert.deepEqual(Pr.shape, [n, m]);
    for (const t of [W, U, S, V, Wr, P, Pr]) t.dispose();
  }
  assert.equal(liveTensors(), before);
});

test('tensors on an asynchronously read backend are read through data(), and results stay on that backend', async () => {
  const gpu = new AsyncOnlyBackend();
  const n = 6;
  const C = tensor(Float32Array.from(spd(n, 5)), [n, n], { backend: gpu });
  const k = tensor(randn(n, 6), [n], { backend: gpu });
  const u = await solveSpd(C, k);
  assert.equal(u.backend, gpu);
  const W = tensor(randn(20, 7), [5, 4], { backend: gpu });
  const { U, S, V } = await svd(W);
  assert.equal(U.backend, gpu);
  assert.equal(S.backend, gpu);
  assert.equal(V.backend, gpu);
  const P = await pinv(W);
  assert.equal(P.backend, gpu);
  assert.notEqual(P.backend, cpuBackend);
  for (const t of [C, k, u, W, U, S, V, P]) t.dispose();
  assert.equal(gpu.allocatedBytes(), 0);
});

test('bad tensors are refused, naming the function and the tensors', async () => {
  const C = tensor(Float32Array.from(spd(3, 1)), [3, 3]);
  const ids = tensor(new Int32Array(3), [3]);
  const wrong = tensor(new Float32Array(4), [4]);
  const cube = tensor(new Float32Array(8), [2, 2, 2]);
  const rect = tensor(new Float32Array(6), [2, 3]);
  const isFactlab = (re: RegExp) => (e: unknown) => e instanceof FactlabError && re.test(e.message);
  await assert.rejects(solveSpd(C, ids), isFactlab(/^solveSpd: expects float32 tensors, got #\d+ float32\[3,3\], #\d+ int32\[3\] \(cast 16-bit tensors first\)$/));
  await assert.rejects(solveSpd(C, wrong), isFactlab(/^solveSpd: k must be \[3\] or \[3,r\] to match C #\d+ float32\[3,3\], got #\d+ float32\[4\]$/));
  await assert.rejects(solveSpd(rect, wrong), isFactlab(/^solveSpd: C must be a square matrix, got #\d+ float32\[2,3\]/));
  await assert.rejects(svd(cube), isFactlab(/^svd: W must be a matrix \[m,n\], got #\d+ float32\[2,2,2\]$/));
  await assert.rejects(lowRank(rect, 3), isFactlab(/^lowRank: rank 3 must be an integer in \[0, 2\] for matrix \[2,3\]$/));
  const singular = tensor(new Float32Array([1, 1, 1, 1]), [2, 2]);
  await assert.rejects(solveSpd(singular, tensor(new Float32Array(2), [2])), isFactlab(/^cholesky: matrix \[2,2\] is not positive definite: pivot 1/));
  rect.dispose();
  await assert.rejects(pinv(rect), isFactlab(/^pinv: tensor #\d+ float32\[2,3\] was already disposed$/));
});
