/// <reference types="@webgpu/types" />
import { BYTES_PER_ELEMENT } from '../../dtype.js';
import { Tensor } from '../../tensor.js';
import { FactlabError } from '../../errors.js';
import { gpuStorage, WebGPUBackend, type FaultDescriber } from './webgpu-backend.js';
import { wgslMath } from './wgsl-math.js';

/**
 * Running a WGSL kernel: declarations generated from the operands and parameters, a pipeline cache keyed by the
 * full source (so a kernel specialises itself simply by generating different source), uniform parameters, a grid
 * that goes past 65535 workgroups, and bindings of windows of tensors larger than maxStorageBufferBindingSize.
 *
 * Generated for every operand `x` (element offsets are in the parameter block, so views and windows need no
 * separate source): the array `x`, `ld_x(i)` / `st_x(i, v)` for element i of the tensor, and `bits_x(i)`, its
 * raw bits as u32 (16-bit dtypes are packed two to a u32 word; `stw_x(w, v)` writes word w of such an output, and
 * `ld_x(i)` of a float16 or bfloat16 input is its float32 value).
 * Parameters are `P.<name>`. `flat_group(wid, nwg)` numbers the workgroups of a 2-D or 3-D grid.
 */
export type ElemType = 'f32' | 'i32' | 'u32';

export interface Operand {
  name: string;
  tensor: Tensor;
  write?: boolean;
  /** The WGSL element type (default f32 for float32, i32 for int32); 16-bit dtypes are always u32 words. */
  type?: ElemType;
  /** Declares the array as atomic<u32> (float adds through compare-exchange); needs `write`. */
  atomic?: boolean;
  /**
   * Reads the operand four elements at a time with `ld4_x(i) -> vec4<f32>` (elements i..i+3; i and the tensor's
   * offset must be multiples of 4): float32 is declared array<vec4<f32>>, a 16-bit dtype array<vec2<u32>>, widened
   * exactly. For wide reads where a kernel's layout allows them.
   */
  vec4?: boolean;
}

export interface Items {
  /** Invocations wanted; `fn item(i: u32)` (which the kernel defines) runs for i in [0, count). */
  count: number;
  /**
   * The element range [lo, hi) of each named operand that items [start, end) touch. Operands it names may be
   * larger than one binding: the launcher then splits the items into chunks whose windows fit.
   */
  windows?: (start: number, end: number) => Record<string, readonly [number, number]>;
  /**
   * Operands read at data-dependent positions: when one is larger than a binding it is bound one window after
   * another, with one dispatch of all items per window; the kernel uses an element only when
   * P.<name>_lo ≤ index < P.<name>_hi (relative to the tensor), and P.first is 1 in the first of them.
   */
  sweep?: readonly string[];
}

export interface Launch {
  /** The op, for error messages and GPU debug labels. */
  op: string;
  /** What tells this launch from others of its op in a profile (sizes, plan); called only while kernels are timed. */
  shape?: () => string;
  operands: readonly Operand[];
  u32?: Record<string, number>;
  i32?: Record<string, number>;
  f32?: Record<string, number>;
  /** Small float tables in the parameter block, read as `P.<name>[i / 4u][i % 4u]` (uniform arrays have a 16-byte stride). */
  f32Arrays?: Record<string, readonly number[]>;
  /** WGSL after the generated declarations. With `items` it defines `fn item(i: u32)`, otherwise `main`. */
  code: string;
  items?: Items;
  /** Workgroups of a kernel that defines its own `main`: a flat count (laid out as a 2-D grid when large) or a grid. */
  groups?: number | readonly [number, number, number];
  /** Threads per workgroup, the constant WG (default 256, or the adapter's maximum if lower). */
  workgroupSize?: number;
  /** For kernels that can meet a bad index: binds the fault buffer and defines `report(value: i32, position: u32)`. */
  fault?: FaultDescriber;
  /** Enables subgroup builtins (only where the adapter has them: see `WebGPUBackend.subgroups`). */
  subgroups?: boolean;
}

export function backendOf(t: Tensor): WebGPUBackend {
  const b = t.storage.backend;
  if (!(b instanceof WebGPUBackend)) throw new FactlabError(`internal: tensor ${t.describe()} is not on the webgpu backend`);
  return b;
}

/** Threads per workgroup: a power of two (tree reductions halve it), at most `preferred` and within the adapter's limits. */
export function workgroupSize(b: WebGPUBackend, preferred = 256): number {
  return 2 ** Math.floor(Math.log2(Math.min(preferred, b.limits.maxInvocations)));
}

/**
 * Runs `fn` with scratch float32 tensors of the given shapes on `like`'s backend (for kernels that run in several
 * passes), and frees them when it returns or throws; the passes recorded meanwhile keep their buffers until
 * submitted (see BufferPool).
 */
export function withScratch<T>(like: Tensor, shapes: readonly (readonly number[])[], fn: (...scratch: Tensor[]) => T): T {
  const made: Tensor[] = [];
  try {
    for (const shape of shapes) {
      let size = 1;
      for (const d of shape) size *= d;
      made.push(new Tensor(shape, 'float32', like.backend.alloc('float32', size)));
    }
    return fn(...made);
  } finally {
    for (const t of made) t.dispose();
  }
}

const is16 = (t: Tensor) => BYTES_PER_ELEMENT[t.dtype] === 2;

function arrayType(o: Operand): string {
  if (o.atomic) return 'array<atomic<u32>>';
  if (o.vec4) return is16(o.tensor) ? 'array<vec2<u32>>' : 'array<vec4<f32>>';
  if (is16(o.tensor)) return 'array<u32>';
  return `array<${o.type ?? (o.tensor.dtype === 'int32' ? 'i32' : 'f32')}>`;
}

/** The float32 value of 16 bits of a float16 or bfloat16 element (exact; f16_to_f32 is in every kernel that needs it). */
function widen16(dtype: string, bits: string): string {
  return dtype === 'bfloat16' ? `bitcast<f32>(${bits} << 16u)` : `bitcast<f32>(f16_to_f32(${bits}))`;
}

function accessors(o: Operand): string {
  const n = o.name;
  if (o.atomic) return '';
  if (o.vec4) {
    if (o.write || o.tensor.dtype === 'int32') throw new FactlabError(`internal: vec4 operand '${n}' must be a float input`);
    const at = `${n}[(i + P.${n}_o) >> 2u]`;
    if (!is16(o.tensor)) return `fn ld4_${n}(i: u32) -> vec4<f32> { return ${at}; }\n`;
    const half = (word: string, high: boolean) => widen16(o.tensor.dtype, high ? `(${word} >> 16u)` : `(${word} & 0xffffu)`);
    return `fn ld4_${n}(i: u32) -> vec4<f32> { let w = ${at}; return vec4<f32>(${half('w.x', false)}, ${half('w.x', true)}, ${half('w.y', false)}, ${half('w.y', true)}); }\n`;
  }
  if (is16(o.tensor)) {
    return `fn bits_${n}(i: u32) -> u32 { let e = i + P.${n}_o; return (${n}[e >> 1u] >> ((e & 1u) << 4u)) & 0xffffu; }\n`
      + `fn ld_${n}(i: u32) -> f32 { return ${widen16(o.tensor.dtype, `bits_${n}(i)`)}; }\n`
      + (o.write ? `fn stw_${n}(w: u32, v: u32) { ${n}[w + u32(i32(P.${n}_o) >> 1u)] = v; }\n`
        + `fn ldw_${n}(w: u32) -> u32 { return ${n}[w + u32(i32(P.${n}_o) >> 1u)]; }\n` : '');
  }
  const t = o.type ?? (o.tensor.dtype === 'int32' ? 'i32' : 'f32');
  return `fn ld_${n}(i: u32) -> ${t} { return ${n}[i + P.${n}_o]; }\n`
    + `fn bits_${n}(i: u32) -> u32 { return bitcast<u32>(${n}[i + P.${n}_o]); }\n`
    + (o.write ? `fn st_${n}(i: u32, v: ${t}) { ${n}[i + P.${n}_o] = v; }\n` : '');
}

interface Field { name: string; type: 'u32' | 'i32' | 'f32' | 'vec4f'; count?: number }

function fieldsOf(spec: Launch): Field[] {
  const f: Field[] = [{ name: 'base', type: 'u32' }, { name: 'count', type: 'u32' }, { name: 'first', type: 'u32' }];
  for (const o of spec.operands) f.push({ name: `${o.name}_o`, type: 'u32' });
  for (const s of spec.items?.sweep ?? []) f.push({ name: `${s}_lo`, type: 'u32' }, { name: `${s}_hi`, type: 'u32' });
  if (spec.fault) f.push({ name: 'fault_code', type: 'u32' });
  for (const [map, type] of [[spec.u32, 'u32'], [spec.i32, 'i32'], [spec.f32, 'f32']] as const) {
    for (const name of Object.keys(map ?? {})) f.push({ name, type });
  }
  const arrays = Object.entries(spec.f32Arrays ?? {});
  if (arrays.length > 0) {
    let pad = 0;
    while (f.length % 4 !== 0) f.push({ name: `pad${pad++}`, type: 'u32' });
    for (const [name, values] of arrays) f.push({ name, type: 'vec4f', count: Math.max(1, Math.ceil(values.length / 4)) });
  }
  return f;
}

/** Words a field takes in the parameter block. */
const wordsOf = (f: Field) => (f.type === 'vec4f' ? 4 * f.count! : 1);

function source(spec: Launch, wg: number, fields: Field[]): string {
  const lines: string[] = [];
  if (spec.subgroups) lines.push('enable subgroups;');
  lines.push(`const WG: u32 = ${wg}u;`);
  lines.push(`struct Params { ${fields.map((f) => `${f.name}: ${f.type === 'vec4f' ? `array<vec4<f32>, ${f.count}>` : f.type}`).join(', ')} }`);
  lines.push('@group(0) @binding(0) var<uniform> P: Params;');
  spec.operands.forEach((o, i) => {
    lines.push(`@group(0) @binding(${i + 1}) var<storage, ${o.write ? 'read_write' : 'read'}> ${o.name}: ${arrayType(o)};`);
  });
  if (spec.fault) {
    lines.push(`@group(0) @binding(${spec.operands.length + 1}) var<storage, read_write> fault: array<atomic<u32>>;`);
    lines.push(`fn report(value: i32, position: u32) {
  loop {
    let r = atomicCompareExchangeWeak(&fault[0], 0u, P.fault_code);
    if (r.exchanged) { atomicStore(&fault[1], bitcast<u32>(value)); atomicStore(&fault[2], position); return; }
    if (r.old_value != 0u) { return; }
  }
}`);
  }
  lines.push('fn flat_group(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + nwg.x * (wid.y + nwg.y * wid.z); }');
  if (spec.operands.some((o) => !o.atomic && o.tensor.dtype === 'float16')) lines.push(wgslMath('f16'));
  for (const o of spec.operands) lines.push(accessors(o));
  lines.push(spec.code);
  if (spec.items) {
    lines.push(`@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let k = flat_group(wid, nwg) * WG + lid;
  if (k < P.count) { item(P.base + k); }
}`);
  }
  return lines.join('\n');
}

/** A compiled kernel, and where each parameter lies in its parameter block. */
export interface Compiled { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; id: number; index: Map<string, number>; words: number }

/**
 * What, besides `code`, decides a kernel's generated source: the workgroup size, the operands' names and array
 * types, the parameter names, sweeps, faults and subgroups. Kernels are looked up by code and then by this short
 * key, so that a launch that hits the cache neither builds the full source nor hashes it (building and hashing
 * the source of a large unrolled kernel cost more than the rest of a launch).
 */
function signature(spec: Launch, wg: number): string {
  let s = `${wg}|${spec.items ? 'i' : 'g'}|${spec.fault ? 'f' : ''}|${spec.subgroups ? 's' : ''}`;
  // The dtype too: a wide read of float16 and of bfloat16 share an array type but widen differently.
  for (const o of spec.operands) s += `|${o.name}:${o.write ? 'w' : ''}:${arrayType(o)}:${o.tensor.dtype}`;
  for (const w of spec.items?.sweep ?? []) s += `|~${w}`;
  for (const map of [spec.u32, spec.i32, spec.f32]) { s += '|'; for (const k in map) s += `${k},`; }
  for (const k in spec.f32Arrays) s += `|${k}[${spec.f32Arrays[k]!.length}]`;
  return s;
}

function pipelineFor(b: WebGPUBackend, spec: Launch, wg: number): Compiled {
  let byCode = b.pipelines.get(spec.code);
  if (!byCode) b.pipelines.set(spec.code, (byCode = new Map()));
  const sig = signature(spec, wg);
  const cached = byCode.get(sig);
  if (cached) return cached;
  const fields = fieldsOf(spec);
  const code = source(spec, wg, fields);
  const index = new Map<string, number>();
  let words = 0;
  for (const f of fields) { index.set(f.name, words); words += wordsOf(f); }
  const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } }];
  spec.operands.forEach((o, i) => entries.push({
    binding: i + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: o.write ? 'storage' : 'read-only-storage' },
  }));
  if (spec.fault) entries.push({ binding: spec.operands.length + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
  const layout = b.device.createBindGroupLayout({ entries });
  const module = b.device.createShaderModule({ code, label: spec.op });
  const pipeline = b.device.createComputePipeline({
    label: spec.op,
    layout: b.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: 'main' },
  });
  const entry = { pipeline, layout, id: b.nextPipelineId++, index, words };
  byCode.set(sig, entry);
  return entry;
}

/** A grid of at least `groups` workgroups within maxComputeWorkgroupsPerDimension (extra ones see flat_group ≥ groups). */
function grid(b: WebGPUBackend, groups: number): [number, number, number] {
  const max = b.limits.maxGroupsPerDim;
  if (groups <= max) return [groups, 1, 1];
  const y = Math.ceil(groups / max);
  if (y <= max) return [max, y, 1];
  return [max, max, Math.ceil(groups / (max * max))];
}

interface Bound { entry: GPUBufferBinding; offset: number }

/** Binds elements [lo, hi) of t (whole buffer where it fits), or null when that range exceeds one binding. */
function bind(b: WebGPUBackend, t: Tensor, lo: number, hi: number): Bound | null {
  const s = gpuStorage(t);
  const bpe = BYTES_PER_ELEMENT[t.dtype];
  const buf = s.buffer;
  if (buf.size <= b.limits.maxBinding) return { entry: { buffer: buf, offset: 0, size: buf.size }, offset: t.offset };
  const align = b.limits.storageAlign;
  const start = Math.floor(((t.offset + lo) * bpe) / align) * align;
  // Whole 16-byte words, so that an operand read as vec4s (Operand.vec4) reaches its last elements.
  const end = Math.min(buf.size, Math.max(start + 16, Math.ceil(((t.offset + Math.max(lo, hi)) * bpe) / 16) * 16));
  if (end - start > b.limits.maxBinding) return null;
  return { entry: { buffer: buf, offset: start, size: end - start }, offset: (t.offset - start / bpe) >>> 0 };
}

function tooLarge(spec: Launch, o: Operand, b: WebGPUBackend): FactlabError {
  const t = o.tensor;
  return new FactlabError(`${spec.op}: its webgpu kernel cannot yet split operand '${o.name}' (${t.describe()}, ${t.size * BYTES_PER_ELEMENT[t.dtype]} bytes), `
    + `which exceeds this GPU's maxStorageBufferBindingSize of ${b.limits.maxBinding} bytes`);
}

/** Records the kernel's dispatches (nothing waits for them; reads do). */
export function launch(spec: Launch): void {
  const b = backendOf(spec.operands[0]!.tensor);
  const wg = workgroupSize(b, spec.workgroupSize);
  b.recorder.open();
  const { pipeline, layout, id: layoutId, index, words: wordCount } = pipelineFor(b, spec, wg);
  const faultCode = spec.fault ? b.registerFault(spec.fault) : 0;
  const words = new Uint32Array(wordCount);
  const floats = new Float32Array(words.buffer);
  for (const [k, v] of Object.entries(spec.f32Arrays ?? {})) floats.set(v, index.get(k)!);
  const set = (name: string, v: number) => { words[index.get(name)!] = v >>> 0; };
  for (const [k, v] of Object.entries(spec.u32 ?? {})) set(k, v);
  for (const [k, v] of Object.entries(spec.i32 ?? {})) words[index.get(k)!] = v | 0;
  for (const [k, v] of Object.entries(spec.f32 ?? {})) floats[index.get(k)!] = v;
  if (spec.fault) set('fault_code', faultCode);

  const dispatch = (base: number, count: number, first: boolean, windows: Map<string, readonly [number, number]>, groups: readonly [number, number, number]) => {
    set('base', base); set('count', count); set('first', first ? 1 : 0);
    const slot = b.recorder.reserve(words.length);
    let key = `${layoutId}:${slot.size}`;
    const entries: GPUBindGroupEntry[] = spec.operands.map((o, i) => {
      const [lo, hi] = windows.get(o.name) ?? [0, o.tensor.size];
      const bound = bind(b, o.tensor, lo, hi);
      if (!bound) throw tooLarge(spec, o, b);
      b.recorder.use(bound.entry.buffer);
      set(`${o.name}_o`, bound.offset);
      key += `|${b.bufferId(bound.entry.buffer)}:${bound.entry.offset}:${bound.entry.size}`;
      return { binding: i + 1, resource: bound.entry };
    });
    b.recorder.write(slot, words);
    entries.push({ binding: 0, resource: { buffer: slot.buffer, offset: 0, size: slot.size } });
    if (spec.fault) entries.push({ binding: spec.operands.length + 1, resource: { buffer: b.faultBuffer } });
    const bindGroup = b.bindGroup(key, layout, entries);
    b.recorder.dispatch(pipeline, bindGroup, groups, slot.offset!, spec.op, spec.shape);
  };

  if (!spec.items) {
    if (!spec.groups) throw new FactlabError(`internal: ${spec.op} launch has neither items nor groups`);
    const g = typeof spec.groups === 'number' ? grid(b, spec.groups) : spec.groups;
    if (g[0] * g[1] * g[2] === 0) return;
    dispatch(0, 0, true, new Map(), g);
    return;
  }
  const { count, windows, sweep = [] } = spec.items;
  if (count === 0) return;
  const byName = new Map(spec.operands.map((o) => [o.name, o]));
  const fitsWhole = (o: Operand) => gpuStorage(o.tensor).buffer.size <= b.limits.maxBinding || bind(b, o.tensor, 0, o.tensor.size) !== null;
  // Sweep windows: a whole binding where the operand fits, else consecutive windows of one binding's size.
  const sweeps = sweep.map((name) => {
    const t = byName.get(name)!.tensor;
    if (fitsWhole(byName.get(name)!)) return [[0, t.size]] as [number, number][];
    const per = Math.floor((b.limits.maxBinding - b.limits.storageAlign) / BYTES_PER_ELEMENT[t.dtype] / 2) * 2;
    const list: [number, number][] = [];
    for (let lo = 0; lo < t.size; lo += per) list.push([lo, Math.min(t.size, lo + per)]);
    return list;
  });
  const combos: [number, number][][] = sweeps.reduce<[number, number][][]>((acc, ws) => acc.flatMap((c) => ws.map((w) => [...c, w])), [[]]);
  for (const o of spec.operands) {
    if (!fitsWhole(o) && !sweep.includes(o.name) && !windows) throw tooLarge(spec, o, b);
  }
  const fitsAll = (w: Record<string, readonly [number, number]>) =>
    Object.entries(w).every(([name, [lo, hi]]) => bind(b, byName.get(name)!.tensor, lo, hi) !== null);
  const needsChunks = windows !== undefined && spec.operands.some((o) => !sweep.includes(o.name) && !fitsWhole(o));
  let start = 0, chunk = count;
  while (start < count) {
    const end = Math.min(count, start + chunk);
    const w = needsChunks ? windows!(start, end) : {};
    if (needsChunks && !fitsAll(w)) {
      if (end - start === 1) {
        const name = Object.entries(w).find(([n, [lo, hi]]) => bind(b, byName.get(n)!.tensor, lo, hi) === null)![0];
        throw tooLarge(spec, byName.get(name)!, b);
      }
      chunk = Math.ceil((end - start) / 2);
      continue;
    }
    const map = new Map<string, readonly [number, number]>(Object.entries(w));
    combos.forEach((combo, k) => {
      combo.forEach(([lo, hi], j) => {
        map.set(sweep[j]!, [lo, hi]);
        set(`${sweep[j]}_lo`, lo); set(`${sweep[j]}_hi`, hi);
      });
      dispatch(start, end - start, k === 0, map, grid(b, Math.ceil((end - start) / wg)));
    });
    start = end;
  }
}
