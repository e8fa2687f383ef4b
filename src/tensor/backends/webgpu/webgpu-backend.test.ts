/**
 * The WebGPU backend's own behaviour: memory (the pool, counts for leak tests), reads of every dtype and of views,
 * dispatch grids past 65535 workgroups, tensors larger than one binding (on the adapter's real limit, and with a
 * small artificial limit against the CPU backend for every splitting kernel), GPU errors surfaced as FactlabErrors,
 * and out-of-range indices computed on the GPU. Run with FACTLAB_BACKEND=webgpu (scripts/run-tests.mjs does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initWebGPU, WebGPUBackend } from './webgpu-backend.js';
import { launch } from './kernel.js';
import { FactlabError } from '../../errors.js';
import { cpuBackend } from '../cpu/cpu-backend.js';
import type { Backend } from '../backend.js';
import { tensor } from '../../creation.js';
import type { Tensor } from '../../tensor.js';
import { tidy } from '../../lifetime.js';
import {
  add, mul, exp, matmul, broadcastTo, cast, where, slice, concat, transpose, embedding, indexSelect, softmax,
} from '../../ops/index.js';
import { indexAdd } from '../../ops/shape/index-select.js';
import { causalConv1d } from '../../ops/mamba/causal-conv1d.js';
import { selectiveScan } from '../../ops/mamba/selective-scan.js';
import { values } from '../../testing/reference.js';

const gpu = await initWebGPU();

async function read(t: Tensor): Promise<number[]> {
  const d = Array.from(await t.data());
  t.dispose();
  return d;
}

test('uploads and reads every dtype, odd 16-bit lengths and views at any offset', async () => {
  const f = tensor([1.5, -2, 3.25], [3], { backend: gpu });
  assert.deepEqual(await read(f), [1.5, -2, 3.25]);
  const h = tensor(Uint16Array.from([0x3c00, 0xc000, 0x7bff]), [3], { dtype: 'float16', backend: gpu });
  assert.deepEqual(Array.from(await h.storage.backend.read(h.storage, 1, 2)), [0xc000, 0x7bff]);
  h.dispose();
  const i = tensor(Int32Array.from([7, -8, 9, 10, 11]), [5], { backend: gpu });
  const view = slice(i, 0, 1, 4);
  assert.deepEqual(await read(view), [-8, 9, 10]);
  i.dispose();
  const empty = tensor(new Float32Array(0), [0, 3], { backend: gpu });
  assert.deepEqual(await read(empty), []);
});

test('freed buffers are reused: repeating a loop makes no new buffers, and counts return to where they were', async () => {
  const bytes = gpu.allocatedBytes(), storages = gpu.liveStorages();
  const loop = () => {
    for (let k = 0; k < 20; k++) {
      tidy(() => exp(mul(tensor(new Float32Array(1000).fill(k), [1000], { backend: gpu }), 2))).dispose();
    }
  };
  // Within one batch, an upload cannot take a buffer that a recorded dispatch still reads; after the batch is
  // submitted, every buffer of the first round serves the second.
  loop();
  await gpu.sync();
  const buffers = gpu.bufferCount(), created = gpu.buffersCreated();
  loop();
  await gpu.sync();
  assert.equal(gpu.bufferCount(), buffers, 'the second round made new buffers');
  assert.equal(gpu.buffersCreated(), created, 'the second round created buffers (and destroyed as many)');
  assert.equal(gpu.allocatedBytes(), bytes);
  assert.equal(gpu.liveStorages(), storages);
});

test('uploads never overwrite a buffer that recorded dispatches still read, across batch boundaries', async () => {
  // 700 dispatches: several batches are submitted mid-loop, while freed buffers are reused by the next uploads.
  const results: Tensor[] = [];
  for (let k = 0; k < 700; k++) {
    const a = tensor([k, -k], [2], { backend: gpu });
    results.push(add(a, a));
    a.dispose();
  }
  for (let k = 0; k < 700; k++) assert.deepEqual(await read(results[k]!), [2 * k, -2 * k], `iteration ${k}`);
});

test('a dispatch of more than 65535 workgroups covers every element', async () => {
  const n = 65535 * 256 + 4097;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = i % 1000;
  const x = tensor(a, [n], { backend: gpu });
  const y = await read(add(x, 1));
  x.dispose();
  for (const i of [0, 1, 65535 * 256 - 1, 65535 * 256, n - 1]) assert.equal(y[i], (i % 1000) + 1, `element ${i}`);
  assert.equal(y.length, n);
});

test(`tensors larger than maxStorageBufferBindingSize (${gpu.limits.maxBinding} bytes here) work in elementwise and copy kernels`, async () => {
  const rows = 4, cols = Math.ceil((gpu.limits.maxBinding / 4 + 1e6) / rows);
  const n = rows * cols;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (i % 1999) - 999;
  const x = tensor(a, [rows, cols], { backend: gpu });
  const bias = tensor(Float32Array.from({ length: cols }, (_, j) => j % 7), [cols], { backend: gpu });
  const probe = [0, 1, cols - 1, cols, 2 * cols + 12345, n - 1];
  const y = await read(add(x, bias));
  for (const i of probe) assert.equal(y[i], a[i]! + ((i % cols) % 7), `add, element ${i}`);
  const s = await read(slice(x, 1, 5, cols));
  for (const [r, j] of [[0, 0], [3, cols - 6], [2, 777777]] as const) assert.equal(s[r * (cols - 5) + j], a[r * cols + j + 5], `slice [${r}, ${j}]`);
  const h = cast(x, 'float16');
  const back = await read(cast(h, 'float32'));
  h.dispose();
  for (const i of probe) assert.equal(back[i], a[i], `cast round trip, element ${i}`);
  // A kernel that cannot split yet says so, naming the op and the operand, instead of returning zeros.
  assert.throws(() => tidy(() => softmax(x)), (e: unknown) => e instanceof FactlabError && /softmax: its webgpu kernel cannot yet split operand 'x'/.test(e.message));
  x.dispose();
  bias.dispose();
});

/** The same ops on a backend whose bindings are capped at 4 KiB, against the CPU backend: every split path runs. */
test('with bindings capped at 4 KiB, splitting kernels equal the CPU backend', async () => {
  const small = new WebGPUBackend(gpu.device, gpu.description, gpu.subgroups, { maxBindingBytes: 4096 });
  const both = (f: (on: Backend) => Tensor) => [f(cpuBackend), f(small)] as const;
  const mk = (on: Backend, shape: number[], seed: number, dtype: 'float32' | 'int32' = 'float32') => {
    const n = shape.reduce((p, q) => p * q, 1);
    const v = values(n, seed, -3, 3);
    return dtype === 'int32' ? tensor(Int32Array.from(v, (x) => Math.floor(x)), shape, { backend: on }) : tensor(v, shape, { backend: on });
  };
  const cases: [string, (on: Backend) => Tensor][] = [
    ['add with broadcast', (on) => add(mk(on, [7, 300], 1), mk(on, [300], 2))],
    ['mul with a column', (on) => mul(mk(on, [7, 300], 3), mk(on, [7, 1], 4))],
    ['exp', (on) => exp(mk(on, [2500], 5))],
    ['broadcastTo', (on) => broadcastTo(mk(on, [1, 400], 6), [9, 400])],
    ['where', (on) => where(mk(on, [11, 1], 9, 'int32'), mk(on, [11, 200], 10), mk(on, [200], 11))],
    ['slice along the last axis', (on) => slice(mk(on, [6, 700], 12), 1, 3, 650)],
    ['transpose (swept source)', (on) => transpose(mk(on, [30, 70, 3], 13), [2, 0, 1])],
    ['concat', (on) => concat([mk(on, [5, 300], 14), mk(on, [5, 123], 15)], 1)],
    ['cast to float16', (on) => cast(mk(on, [3001], 16), 'float16')],
    ['concat of float16', (on) => concat([cast(mk(on, [3, 1001], 17), 'float16'), cast(mk(on, [3, 999], 18), 'float16')], 1)],
    ['transpose of bfloat16', (on) => transpose(cast(mk(on, [41, 61], 19), 'bfloat16'))],
    ['embedding (swept table)', (on) => embedding(mk(on, [500, 20], 20), tensor(Int32Array.from([499, 0, 250, 3, 499]), [5], { backend: on }))],
    ['embedding of a float16 table', (on) => embedding(cast(mk(on, [500, 21], 21), 'float16'), tensor(Int32Array.from([1, 498, 77]), [3], { backend: on }))],
    ['indexSelect along axis 1', (on) => indexSelect(mk(on, [4, 800], 22), 1, tensor(Int32Array.from([799, 5, 5, 400]), [4], { backend: on }))],
    ['indexAdd (swept output)', (on) => indexAdd(mk(on, [6, 10], 23), tensor(Int32Array.from([900, 3, 900, 0, 450, 899]), [6], { backend: on }), 0, 901)],
  ];
  for (const [name, f] of cases) {
    const [want, got] = tidy(() => both(f));
    const w = await read(want), g = await read(got);
    assert.equal(g.length, w.length, name);
    w.forEach((v, i) => assert.ok(Math.abs(v - g[i]!) <= 1e-5 * (1 + Math.abs(v)), `${name}: element ${i} is ${g[i]}, expected ${v}`));
  }
  assert.equal(small.allocatedBytes(), 0);
});

test('GPU validation errors are thrown by the next read, not swallowed', async () => {
  const x = tensor([1, 2], [2], { backend: gpu });
  const y = tensor([0, 0], [2], { backend: gpu });
  launch({ op: 'broken', operands: [{ name: 'x', tensor: x }, { name: 'y', tensor: y, write: true }], code: 'fn item(i: u32) { st_y(i, undefined_name); }', items: { count: 2 } });
  await assert.rejects(y.data(), (e: unknown) => e instanceof FactlabError && /WebGPU error: .*undefined_name/s.test(e.message));
  // The error is reported once; the device keeps working.
  assert.deepEqual(await read(add(x, 1)), [2, 3]);
  x.dispose();
  y.dispose();
});

test('an out-of-range id computed on the GPU fails the next read, naming the op and the position', async () => {
  const table = tensor(values(12, 3), [6, 2], { backend: gpu });
  const good = cast(tensor([1, 5], [2], { backend: gpu }), 'int32');
  const bad = cast(tensor([2, 7, 1], [3], { backend: gpu }), 'int32');
  const e1 = embedding(table, bad);
  await assert.rejects(e1.data(), (e: unknown) => e instanceof FactlabError && /embedding: id 7 at position \[1\] is out of range for a vocabulary of V=6 \(found on the GPU/.test(e.message));
  const e2 = embedding(table, good);
  assert.equal((await e2.data()).length, 4);
  for (const t of [table, good, bad, e1, e2]) t.dispose();
});

test('a past row out of range computed on the GPU fails the next read of the conv and of the scan', async () => {
  const B = 2, L = 3, D = 4, N = 2, R = 2;
  const f = (n: number, seed: number, shape: number[]) => tensor(values(n, seed), shape, { backend: gpu });
  const x = f(B * L * D, 1, [B, L, D]), past = f(R * 2 * D, 2, [R, 2, D]), h0 = f(R * D * N, 3, [R, D, N]);
  const rows = cast(tensor([1, 2], [2], { backend: gpu }), 'int32');
  const conv = causalConv1d(x, f(D * 4, 4, [D, 4]), f(D, 5, [D]), { past: { inputs: past, rows } });
  await assert.rejects(conv.data(), (e: unknown) => e instanceof FactlabError && /causalConv1d: the past's row 2 for row 1 of x is outside its 2 rows \(found on the GPU/.test(e.message));
  const scan = selectiveScan(x, f(B * L * D, 6, [B, L, D]), f(D * N, 7, [D, N]), f(B * L * N, 8, [B, L, N]), f(B * L * N, 9, [B, L, N]), f(D, 10, [D]), { initialState: h0, initialRows: rows });
  await assert.rejects(scan.data(), (e: unknown) => e instanceof FactlabError && /selectiveScan: the past's row 2 for row 1 of x is outside its 2 rows \(found on the GPU/.test(e.message));
  for (const t of [x, past, h0, rows, conv, scan]) t.dispose();
});

test('kernels can use subgroup operations where the adapter has them', { skip: !gpu.subgroups && 'the adapter has no subgroups' }, async () => {
  const out = tensor(new Float32Array(64), [64], { backend: gpu });
  launch({ op: 'subgroups', subgroups: true, operands: [{ name: 'out', tensor: out, write: true }], code: `
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) size: u32) { st_out(lid, subgroupAdd(1.0) - f32(size)); }`, groups: 1 });
  assert.deepEqual(await read(out), new Array(64).fill(0));
});

test('recorded work is submitted in batches that start small after a pause and double while recording goes on', async () => {
  const a = tensor(values(64, 1), [64], { backend: gpu });
  await a.data();
  const submits = () => gpu.recorder.submits;
  const s0 = submits(), d0 = gpu.recorder.submittedDispatches;
  // One synchronous stretch of 600 dispatches: 16, 32, 64, 128, 256, then the rest when the stretch ends.
  for (let i = 0; i < 600; i++) add(a, a).dispose();
  assert.equal(submits() - s0, 5);
  await gpu.sync();
  assert.equal(submits() - s0, 6);
  assert.equal(gpu.recorder.submittedDispatches - d0, 600);
  // After the pause the GPU starts again after 16.
  for (let i = 0; i < 20; i++) add(a, a).dispose();
  assert.equal(submits() - s0, 7);
  await gpu.sync();
  assert.equal(submits() - s0, 8);
  a.dispose();
});

test('an allocation beyond maxBufferSize is refused at once', () => {
  assert.throws(() => gpu.alloc('float32', Math.ceil(gpu.limits.maxBuffer / 4) + 1), /exceeds this GPU's maxBufferSize/);
});

test('timeKernels times every kernel its work records, in order, and the work still computes', { skip: !gpu.timestamps && 'the adapter has no timestamp-query' }, async () => {
  const a = tensor(values(64 * 32, 1), [64, 32], { backend: gpu }), b = tensor(values(32 * 16, 2), [32, 16], { backend: gpu });
  const before = gpu.recorder.submittedDispatches;
  const { result, kernels, dropped } = await gpu.timeKernels(async () => {
    const c = matmul(exp(a), b);
    return await read(c);
  });
  const dispatched = gpu.recorder.submittedDispatches - before;
  assert.equal(dropped, 0);
  assert.equal(kernels.length, dispatched);
  assert.deepEqual(kernels.map((k) => k.op), ['exp', 'matmul']);
  // matmul tells its products apart in profiles: sizes (M as a range of powers of two) and plan.
  assert.equal(kernels[1]!.shape, '33–64 × 32 × 16 nn, tiles 64');
  for (const k of kernels) assert.ok(Number.isFinite(k.ms) && k.ms >= 0, `${k.op}: ${k.ms} ms`);
  const expected = await read(matmul(exp(a), b));
  assert.deepEqual(result, expected);
  const few = await gpu.timeKernels(() => { add(a, a).dispose(); add(a, a).dispose(); add(a, a).dispose(); }, 2);
  assert.equal(few.kernels.length, 2);
  assert.equal(few.dropped, 1);
  // More kernels than one query set holds (2048).
  const many = await gpu.timeKernels(() => { for (let i = 0; i < 2100; i++) mul(a, a).dispose(); });
  assert.equal(many.kernels.length, 2100);
  assert.ok(many.kernels.every((k) => k.op === 'mul' && Number.isFinite(k.ms) && k.ms >= 0));
  await assert.rejects(gpu.timeKernels(() => gpu.timeKernels(() => 0)), /cannot nest/);
  a.dispose(); b.dispose();
});

test('the pool keeps freed buffers up to half the largest working set, and trimPool gives them back', async () => {
  const small = new WebGPUBackend(gpu.device, gpu.description, gpu.subgroups, { maxPooledBytes: 0 });
  const mib = 256 * 1024;  // float32 elements in 1 MiB, exactly one size class
  const ts = Array.from({ length: 4 }, () => tensor(new Float32Array(mib), [mib], { backend: small }));
  assert.equal(small.bufferCount(), 4);
  for (const t of ts) t.dispose();
  await small.sync();
  assert.equal(small.bufferCount(), 2, 'two of the four freed 1 MiB buffers kept: half the 4 MiB working set');
  assert.equal(small.pooledBytes(), 2 * 1024 * 1024);
  const again = tensor(new Float32Array(mib), [mib], { backend: small });
  assert.equal(small.bufferCount(), 2, 'a kept buffer served the next allocation of its size');
  again.dispose();
  small.trimPool();
  assert.equal(small.bufferCount(), 0);
  const one = tensor(new Float32Array(mib), [mib], { backend: small });
  one.dispose();
  await small.sync();
  assert.equal(small.bufferCount(), 0, 'after trimPool the cap is maxPooledBytes (0) again until the working set grows');
});

test('destroying a buffer forgets only the cached bind groups that name it', async () => {
  const b2 = new WebGPUBackend(gpu.device, gpu.description, gpu.subgroups, { maxPooledBytes: 0 });
  let created = 0;
  const device = gpu.device;
  const make = device.createBindGroup.bind(device);
  device.createBindGroup = (d: GPUBindGroupDescriptor) => { created++; return make(d); };
  try {
    const a = tensor(values(64, 1), [64], { backend: b2 }), c = tensor(values(64, 2), [64], { backend: b2 });
    const run = async (x: Tensor) => { const y = exp(x); const d = await y.data(); y.dispose(); return d; };
    await run(a); await run(c);
    const before = created;
    await run(a); await run(c);
    assert.equal(created, before, 'both bind groups are cached');
    const buffers = b2.bufferCount();
    a.dispose();
    await b2.sync();
    assert.equal(b2.bufferCount(), buffers - 1, "a's buffer was destroyed (beyond the pool's cap)");
    await run(c);
    assert.equal(created, before, "c's bind group survived the destruction of a's buffer");
    c.dispose();
  } finally {
    device.createBindGroup = make;
  }
});
