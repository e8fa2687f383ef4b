import { BYTES_PER_ELEMENT } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { backendOf, launch, withScratch } from './kernel.js';
import { gpuStorage } from './webgpu-backend.js';
import { mapElements } from './elementwise.js';
import { affineRange, mergeAxes } from './windows.js';

/**
 * Copies that write a region of their output (concat, the gradient of slice): out[offset + Σ_d c_d·strides[d]]
 * = src[c] for every coordinate c of src. Each element is one invocation's whole word, so this template is for
 * 4-byte elements; `via32Bits` runs it for 16-bit dtypes on widened copies (the bit patterns zero-extended, so
 * nothing is rounded or canonicalised).
 */
export function copyInto(op: string, src: Tensor, out: Tensor, strides: readonly number[], offset: number): void {
  if (src.size === 0) return;
  const m = mergeAxes(src.shape, [strides]);
  const st = m.strides[0]!;
  const u32: Record<string, number> = { c: offset };
  m.dims.forEach((d, i) => { u32[`d${i}`] = d; u32[`s${i}`] = st[i]!; });
  const lines = ['fn oidx(i: u32) -> u32 {', '  var r = i;', '  var s = P.c;'];
  for (let d = m.dims.length - 1; d >= 1; d--) lines.push(`  s = s + (r % P.d${d}) * P.s${d};`, `  r = r / P.d${d};`);
  lines.push(m.dims.length > 0 ? '  return s + r * P.s0;' : '  return s;', '}');
  launch({
    op,
    operands: [{ name: 'src', tensor: src, type: 'u32' }, { name: 'out', tensor: out, write: true, type: 'u32' }],
    u32,
    code: `${lines.join('\n')}\nfn item(i: u32) { st_out(oidx(i), ld_src(i)); }`,
    items: {
      count: src.size,
      windows(start, end) {
        const [a, b] = affineRange(m.dims, st, start, end);
        return { src: [start, end], out: [a + offset, b + offset] };
      },
    },
  });
}

/** Copies the first `count` 4-byte elements of src over the first `count` of out (a copy command: no kernel, no binding). */
export function copyElements(src: Tensor, out: Tensor, count: number): void {
  const bytes = count * BYTES_PER_ELEMENT[out.dtype];
  if (bytes > 0) backendOf(out).recorder.copy(gpuStorage(src).buffer, src.offset * BYTES_PER_ELEMENT[src.dtype], gpuStorage(out).buffer, out.offset * BYTES_PER_ELEMENT[out.dtype], bytes);
}

/** Zeroes a freshly allocated output (a copy command: no kernel, no binding limit). */
export function zeroFill(out: Tensor): void {
  const bytes = Math.ceil((out.size * BYTES_PER_ELEMENT[out.dtype]) / 4) * 4;
  if (bytes > 0) backendOf(out).recorder.clear(gpuStorage(out).buffer, out.offset * BYTES_PER_ELEMENT[out.dtype], bytes);
}

/**
 * Runs `fn` on 32-bit stand-ins of 16-bit inputs and output (each element's bits in its own word), then packs
 * the result into `out`; for 4-byte dtypes it calls `fn` on the tensors themselves.
 */
export function via32Bits(op: string, inputs: readonly Tensor[], out: Tensor, fn: (inputs: readonly Tensor[], out: Tensor) => void): void {
  if (BYTES_PER_ELEMENT[out.dtype] === 4) { fn(inputs, out); return; }
  withScratch(out, [...inputs.map((x) => x.shape), out.shape], (...wide) => {
    const wideOut = wide.pop()!;
    inputs.forEach((x, i) => mapElements({ op, out: wide[i]!, outMode: 'bits', inputs: [{ tensor: x, mode: 'bits' }], body: 'return v0;' }));
    fn(wide, wideOut);
    mapElements({ op, out, inputs: [{ tensor: wideOut, mode: 'bits' }], body: 'return v0;' });
  });
}
