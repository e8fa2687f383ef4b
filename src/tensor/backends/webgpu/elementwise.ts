import { BYTES_PER_ELEMENT } from '../../dtype.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { FactlabError } from '../../errors.js';
import { launch, type Operand } from './kernel.js';
import { affineRange, broadcastStrides, mergeAxes } from './windows.js';

/**
 * The one template behind every elementwise and copy kernel (arithmetic, unary functions, where, broadcastTo,
 * cast, slice, transpose): out[i] = f(x0[idx0(i)], x1[idx1(i)], ...), where each operand's index is an affine
 * function of the output coordinates: broadcasting (stride 0 along broadcast axes), a window (slice), or a
 * permutation (transpose). Each operand is read as f32, i32, or raw bits (which also serves the 16-bit dtypes);
 * an output of a 16-bit dtype is written a word (two elements) per invocation, so that no two invocations write
 * the same word. Index arithmetic is generated for the merged layout (usually one to three axes).
 *
 * Tensors larger than one binding: the outputs are cut into chunks whose operand windows (exact, from the affine
 * maps) fit. An operand whose window would still be too large for any useful chunk (the source of a transpose)
 * can be marked `sweep`: it is bound one window after another, and each output element is written by the
 * dispatch whose window holds its source.
 */
export type LoadMode = 'f32' | 'i32' | 'bits';

export interface MapInput {
  tensor: Tensor;
  /** The shape the operand is broadcast from, when it is not the tensor's own (a reduced axis kept as 1). */
  shape?: Shape;
  /** Instead of broadcasting: the operand's element index is offset + Σ_d coord_d·strides[d] over the output's axes. */
  strides?: readonly number[];
  offset?: number;
  /** Default: f32 for float32, i32 for int32, bits for 16-bit dtypes. */
  mode?: LoadMode;
  /** Bind in windows one after another (at most one swept operand per kernel). */
  sweep?: boolean;
}

export interface MapSpec {
  op: string;
  out: Tensor;
  /** How f's result is stored: f32, i32, or bits (16-bit outputs always take bits). Default from the output dtype. */
  outMode?: LoadMode;
  inputs: readonly MapInput[];
  /** The body of `fn f(v0: T0, v1: T1, ...) -> Tout`, with v_k loaded as inputs[k].mode says. */
  body: string;
  /** Extra WGSL that the body calls (math functions). */
  helpers?: string;
  u32?: Record<string, number>;
  i32?: Record<string, number>;
  f32?: Record<string, number>;
}

const wgslType = (m: LoadMode) => (m === 'bits' ? 'u32' : m);
const defaultMode = (t: Tensor): LoadMode => (BYTES_PER_ELEMENT[t.dtype] === 2 ? 'bits' : t.dtype === 'int32' ? 'i32' : 'f32');

function indexFn(k: number, dims: readonly number[], strides: readonly number[], contiguous: readonly number[], offset: number): string {
  const c = offset !== 0 ? ` + P.c${k}` : '';
  if (strides.every((s) => s === 0)) return `fn idx${k}(i: u32) -> u32 { return 0u${c}; }`;
  if (strides.every((s, d) => s === contiguous[d])) return `fn idx${k}(i: u32) -> u32 { return i${c}; }`;
  const lines = [`fn idx${k}(i: u32) -> u32 {`, '  var r = i;', `  var s = 0u${c};`];
  for (let d = dims.length - 1; d >= 1; d--) lines.push(`  s = s + (r % P.d${d}) * P.s${k}_${d};`, `  r = r / P.d${d};`);
  lines.push(`  return s + r * P.s${k}_0;`, '}');
  return lines.join('\n');
}

/** Generated sources by helpers, body and index signature (see mapElements). */
const sources = new Map<string, Map<string, Map<string, string>>>();

/** Which of indexFn's three forms an operand's strides take. */
function indexKind(strides: readonly number[], contiguous: readonly number[]): string {
  if (strides.every((s) => s === 0)) return 'z';
  if (strides.every((s, d) => s === contiguous[d])) return 'i';
  return 'g';
}

export function mapElements(spec: MapSpec): void {
  const { out, inputs } = spec;
  const n = out.size;
  const full = inputs.map((x) => x.strides ? [...x.strides] : broadcastStrides(out.shape, x.shape ?? x.tensor.shape));
  const layout = mergeAxes(out.shape, full);
  const offsets = inputs.map((x) => x.offset ?? 0);
  const modes = inputs.map((x) => x.mode ?? defaultMode(x.tensor));
  const swept = inputs.map((x, k) => (x.sweep ? k : -1)).filter((k) => k >= 0);
  if (swept.length > 1) throw new FactlabError(`internal: ${spec.op} sweeps more than one operand`);
  const sw = swept[0];
  const packed = BYTES_PER_ELEMENT[out.dtype] === 2;
  const outMode: LoadMode = packed ? 'bits' : spec.outMode ?? defaultMode(out);
  const u32: Record<string, number> = { n };
  layout.dims.forEach((d, i) => { u32[`d${i}`] = d; });
  layout.strides.forEach((st, k) => st.forEach((s, d) => { u32[`s${k}_${d}`] = s; }));
  offsets.forEach((c, k) => { if (c !== 0) u32[`c${k}`] = c; });
  Object.assign(u32, spec.u32);

  const operands: Operand[] = inputs.map((x, k) => ({ name: `x${k}`, tensor: x.tensor, type: wgslType(modes[k]!) }));
  operands.push({ name: 'out', tensor: out, write: true, type: wgslType(outMode) });
  const generate = (): string => {
    const load = (k: number, at: string) => `${modes[k] === 'bits' ? 'bits' : 'ld'}_x${k}(idx${k}(${at}))`;
    const call = (at: string) => `f(${inputs.map((_, k) => load(k, at)).join(', ')})`;
    const inWindow = (at: string) => (sw === undefined ? 'true' : `(idx${sw}(${at}) >= P.x${sw}_lo && idx${sw}(${at}) < P.x${sw}_hi)`);
    const params = inputs.map((_, k) => `v${k}: ${wgslType(modes[k]!)}`).join(', ');
    let item: string;
    if (packed) {
      item = `fn item(w: u32) {
    let i = 2u * w;
    var v = select(ldw_out(w), 0u, P.first == 1u);
    if (${inWindow('i')}) { v = (v & 0xffff0000u) | (${call('i')} & 0xffffu); }
    if (i + 1u < P.n && ${inWindow('i + 1u')}) { v = (v & 0xffffu) | (${call('i + 1u')} << 16u); }
    stw_out(w, v);
  }`;
    } else if (sw !== undefined) {
      item = `fn item(i: u32) { if (${inWindow('i')}) { st_out(i, ${call('i')}); } }`;
    } else {
      item = `fn item(i: u32) { st_out(i, ${call('i')}); }`;
    }
    return [
      spec.helpers ?? '',
      ...layout.strides.map((st, k) => indexFn(k, layout.dims, st, layout.contiguous, offsets[k]!)),
      `fn f(${params}) -> ${wgslType(outMode)} {\n${spec.body}\n}`,
      item,
    ].join('\n');
  };
  // The source depends on the body, the helpers and the shape of the index arithmetic, not on sizes (those are
  // parameters): kept per body, so that a launch hands the pipeline cache the same string object each time
  // instead of building and hashing a new one.
  const sig = `${outMode}|${packed ? 'p' : ''}|${sw ?? ''}|${layout.dims.length}|` + layout.strides.map((st, k) => `${modes[k]}:${indexKind(st, layout.contiguous)}:${offsets[k] !== 0 ? 'c' : ''}`).join(',');
  let byBody = sources.get(spec.helpers ?? '');
  if (!byBody) sources.set(spec.helpers ?? '', (byBody = new Map()));
  let bySig = byBody.get(spec.body);
  if (!bySig) byBody.set(spec.body, (bySig = new Map()));
  let code = bySig.get(sig);
  if (code === undefined) {
    code = generate();
    if (bySig.size < 256) bySig.set(sig, code);
  }

  launch({
    op: spec.op,
    operands,
    u32, i32: spec.i32, f32: spec.f32,
    code,
    items: {
      count: packed ? Math.ceil(n / 2) : n,
      sweep: sw === undefined ? [] : [`x${sw}`],
      windows(start, end) {
        const lo = packed ? 2 * start : start, hi = packed ? Math.min(n, 2 * end) : end;
        const w: Record<string, [number, number]> = { out: [lo, hi] };
        layout.strides.forEach((st, k) => {
          if (k === sw) return;
          const [a, b] = affineRange(layout.dims, st, lo, hi);
          w[`x${k}`] = [a + offsets[k]!, b + offsets[k]!];
        });
        return w;
      },
    },
  });
}
