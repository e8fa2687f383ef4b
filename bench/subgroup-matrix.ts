/**
 * What Dawn's `chromium-experimental-subgroup-matrix` feature (cooperative matrices, a route to tensor cores; issue 4)
 * offers on this adapter, and how fast its products run: the configurations the adapter reports, one product of each
 * checked against the host, and the throughput of 16×16×32 int8 products with operands held in registers and re-read
 * from workgroup memory at every step (a tiled kernel's inner loop).
 *   node dist/bench/subgroup-matrix.js
 * Appends a table to bench/results/subgroup-matrix.md and docs/performance.md.
 *
 * Written against the `webgpu` package directly: the feature needs Dawn's allow_unsafe_apis toggle, which factlab's
 * own device does not ask for.
 */
/// <reference types="@webgpu/types" />
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { benchContext, writeBenchRecord } from './context.js';

interface Config { componentType: string; resultComponentType: string; M: number; N: number; K: number }
interface Throughput { operands: 'registers' | 'workgroup memory'; accumulators: string; ms: number; tops: number }

const mod = await import('webgpu') as unknown as { create(o: string[]): GPU; globals: object };
Object.assign(globalThis, mod.globals);
const gpu = mod.create(['enable-dawn-features=allow_unsafe_apis']);
const adapter = (await gpu.requestAdapter({ powerPreference: 'high-performance' }))!;
const info = adapter.info as GPUAdapterInfo & { subgroupMatrixConfigs?: Config[] };
const configs = (info.subgroupMatrixConfigs ?? []).map((c) => ({ componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K }));
const has = (f: string) => adapter.features.has(f as GPUFeatureName);
const description = [info.vendor, info.architecture, info.device, info.description && `(${info.description})`].filter(Boolean).join(' ');

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const checks: { config: string; ok: boolean; note: string }[] = [];
  const rates: Throughput[] = [];
  if (has('chromium-experimental-subgroup-matrix')) {
    const device = await adapter.requestDevice({
      requiredFeatures: ['subgroups', 'chromium-experimental-subgroup-matrix'] as GPUFeatureName[],
      requiredLimits: {
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    const U = GPUBufferUsage;
    const buffer = (data: ArrayBufferView | number) => {
      const size = typeof data === 'number' ? data : data.byteLength;
      const b = device.createBuffer({ size: Math.max(16, size), usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
      if (typeof data !== 'number') device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
      return b;
    };
    const pipeline = async (code: string): Promise<GPUComputePipeline | string> => {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ code });
      const p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const err = await device.popErrorScope();
      return err ? err.message.split('\n')[0]! : p;
    };
    const dispatch = (p: GPUComputePipeline, bufs: GPUBuffer[], groups: number) => {
      const e = device.createCommandEncoder();
      const pass = e.beginComputePass();
      pass.setPipeline(p);
      pass.setBindGroup(0, device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: bufs.map((b, binding) => ({ binding, resource: { buffer: b } })) }));
      pass.dispatchWorkgroups(groups);
      pass.end();
      device.queue.submit([e.finish()]);
    };
    const read = async (b: GPUBuffer, bytes: number) => {
      const r = device.createBuffer({ size: bytes, usage: U.MAP_READ | U.COPY_DST });
      const e = device.createCommandEncoder();
      e.copyBufferToBuffer(b, 0, r, 0, bytes);
      device.queue.submit([e.finish()]);
      await r.mapAsync(GPUMapMode.READ);
      const out = new Int32Array(r.getMappedRange().slice(0));
      r.destroy();
      return out;
    };
    // One product of each configuration against the host (8-bit types: four to an i32 or u32 word, row-major).
    for (const c of configs) {
      const name = `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`;
      if (c.componentType !== 'i8' && c.componentType !== 'u8') { checks.push({ config: name, ok: false, note: 'not checked (only 8-bit types are checked here)' }); continue; }
      const word = c.componentType === 'i8' ? 'i32' : 'u32';
      const A = c.componentType === 'i8' ? Int8Array.from({ length: c.M * c.K }, (_, i) => ((i * 37) % 255) - 127) : Uint8Array.from({ length: c.M * c.K }, (_, i) => (i * 37) % 256);
      const B = c.componentType === 'i8' ? Int8Array.from({ length: c.K * c.N }, (_, i) => ((i * 53) % 251) - 125) : Uint8Array.from({ length: c.K * c.N }, (_, i) => (i * 53) % 256);
      const p = await pipeline(`enable chromium_experimental_subgroup_matrix; enable subgroups;
@group(0) @binding(0) var<storage, read_write> a: array<${word}>;
@group(0) @binding(1) var<storage, read_write> b: array<${word}>;
@group(0) @binding(2) var<storage, read_write> c: array<${word}>;
@compute @workgroup_size(32) fn main() {
  let l = subgroupMatrixLoad<subgroup_matrix_left<${c.componentType}, ${c.K}, ${c.M}>, row_major>(&a, 0, ${c.K});
  let r = subgroupMatrixLoad<subgroup_matrix_right<${c.componentType}, ${c.N}, ${c.K}>, row_major>(&b, 0, ${c.N});
  var acc = subgroup_matrix_result<${c.resultComponentType}, ${c.N}, ${c.M}>();
  acc = subgroupMatrixMultiplyAccumulate(l, r, acc);
  subgroupMatrixStore<row_major>(&c, 0, acc, ${c.N});
}`);
      if (typeof p === 'string') { checks.push({ config: name, ok: false, note: p }); continue; }
      const out = buffer(c.M * c.N * 4);
      dispatch(p, [buffer(A), buffer(B), out], 1);
      const C = await read(out, c.M * c.N * 4);
      let bad = 0;
      for (let i = 0; i < c.M; i++) for (let j = 0; j < c.N; j++) {
        let s = 0;
        for (let k = 0; k < c.K; k++) s += A[i * c.K + k]! * B[k * c.N + j]!;
        if ((c.resultComponentType === 'u32' ? s >>> 0 : s | 0) !== (c.resultComponentType === 'u32' ? C[i * c.N + j]! >>> 0 : C[i * c.N + j])) bad++;
      }
      checks.push({ config: name, ok: bad === 0, note: bad === 0 ? 'equals the host product' : `${bad} of ${c.M * c.N} elements differ` });
    }
    // Throughput of i8 16×16×32 products: one subgroup per workgroup, `nl`×`nr` independent accumulators.
    const words = 8192, groups = 132 * 64;
    const input = buffer(Int32Array.from({ length: words }, (_, i) => Math.imul(i, 2654435761) | 0));
    for (const [from, nl, nr, iters] of [['registers', 2, 2, 4096], ['registers', 2, 4, 4096], ['workgroup memory', 2, 2, 2048], ['workgroup memory', 4, 4, 1024]] as const) {
      const pairs: [number, number][] = [];
      for (let i = 0; i < nl; i++) for (let j = 0; j < nr; j++) pairs.push([i, j]);
      const loadsAt = (off: string) => [
        ...Array.from({ length: nl }, (_, i) => `let l${i} = subgroupMatrixLoad<subgroup_matrix_left<i8, 32, 16>, row_major>(&ws, ${off}${i * 128}u, 32u);`),
        ...Array.from({ length: nr }, (_, j) => `let r${j} = subgroupMatrixLoad<subgroup_matrix_right<i8, 16, 32>, row_major>(&ws, ${off}${1024 + j * 128}u, 16u);`),
      ].join(' ');
      const mma = pairs.map(([i, j]) => `c${i}${j} = subgroupMatrixMultiplyAccumulate(l${i}, r${j}, c${i}${j});`).join(' ');
      const loop = from === 'registers'
        ? `${loadsAt('')}\n  for (var it = 0u; it < ${iters}u; it++) { ${mma} }`
        : `for (var it = 0u; it < ${iters}u; it++) { let o = (it % 4u) * 256u; ${loadsAt('o + ')} ${mma} }`;
      const p = await pipeline(`enable chromium_experimental_subgroup_matrix; enable subgroups;
@group(0) @binding(0) var<storage, read_write> a: array<i32>;
@group(0) @binding(1) var<storage, read_write> c: array<i32>;
var<workgroup> ws: array<i32, ${words}>;
@compute @workgroup_size(32) fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  for (var q = lid; q < ${words}u; q += 32u) { ws[q] = a[q]; }
  workgroupBarrier();
  ${pairs.map(([i, j]) => `var c${i}${j} = subgroup_matrix_result<i32, 16, 16>();`).join(' ')}
  ${loop}
  ${pairs.map(([i, j], x) => `subgroupMatrixStore<row_major>(&c, wid.x * ${256 * pairs.length}u + ${x * 256}u, c${i}${j}, 16u);`).join('\n  ')}
}`);
      if (typeof p === 'string') { rates.push({ operands: from, accumulators: `${nl}×${nr}: ${p}`, ms: NaN, tops: NaN }); continue; }
      const out = buffer(groups * 256 * 4 * pairs.length);
      // A binding or dispatch the device refuses would otherwise time an empty queue.
      device.pushErrorScope('validation');
      dispatch(p, [input, out], groups);
      await device.queue.onSubmittedWorkDone();
      const refused = await device.popErrorScope();
      if (refused) { rates.push({ operands: from, accumulators: `${nl}×${nr}: ${refused.message.split('\n')[0]}`, ms: NaN, tops: NaN }); continue; }
      const reps = 5, t0 = performance.now();
      for (let r = 0; r < reps; r++) dispatch(p, [input, out], groups);
      await device.queue.onSubmittedWorkDone();
      const ms = (performance.now() - t0) / reps;
      rates.push({ operands: from, accumulators: `${nl}×${nr}`, ms: +ms.toFixed(2), tops: Math.round((groups * iters * pairs.length * 16 * 16 * 32 * 2) / ms / 1e9) });
      console.error(JSON.stringify(rates.at(-1)));
    }
  }
  const { date, commit, machine, command } = benchContext(loadAtStart);
  const md = [
    `### ${date.slice(0, 16).replace('T', ' ')} UTC — ${description}; ${machine.cpu}, ${machine.cores} cores; commit ${commit}`,
    '',
    `Command: \`${command}\`. Features with allow_unsafe_apis: subgroup matrices ${has('chromium-experimental-subgroup-matrix') ? 'offered' : 'not offered'}, shader-f16 ${has('shader-f16') ? 'offered' : 'not offered'}.`,
    '',
    '| configuration (A·B → C, M×N×K) | one product |',
    '|---|---|',
    ...(checks.length ? checks.map((c) => `| ${c.config} | ${c.note} |`) : ['| none reported | – |']),
    '',
    'Throughput of int8 16×16×32 products (one subgroup per workgroup, 8,448 workgroups; wall clock of 5 dispatches after one):',
    '',
    '| operands | accumulators | ms | int8 TOPS |',
    '|---|---|---|---|',
    ...rates.map((r) => `| ${r.operands} | ${r.accumulators} | ${r.ms} | ${r.tops} |`),
    '',
  ].join('\n');
  writeBenchRecord('subgroup-matrix', 'gpu', date, { date, command, commit, machine, device: description, configs, checks, rates }, md);
}

await main();
process.exit(0);
