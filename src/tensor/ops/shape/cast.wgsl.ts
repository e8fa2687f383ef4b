import type { DType } from '../../dtype.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';

/**
 * cast in WGSL, on raw bits in integer arithmetic: the float16 conversions are written out (as dtype.ts does)
 * rather than taken from unpack2x16float/pack2x16float, whose rounding and subnormal handling WGSL leaves to the
 * implementation, so that both backends give the same bits. Widening float16 (`f16_to_f32`) comes with every kernel
 * that has a float16 operand (kernel.ts).
 */
export const CAST_HELPERS = `${wgslMath('special')}
fn f32_to_f16(x: u32) -> u32 {
  let sign = (x >> 16u) & 0x8000u;
  let exp = (x >> 23u) & 0xffu;
  var frac = x & 0x7fffffu;
  if (exp == 0xffu) { return sign | 0x7c00u | select(0u, 0x200u, frac != 0u); }
  let e = i32(exp) - 112;
  if (e >= 31) { return sign | 0x7c00u; }
  if (e <= 0) {
    if (e < -10) { return sign; }
    frac = frac | 0x800000u;
    let shift = u32(14 - e);
    var half = frac >> shift;
    let rem = frac & ((1u << shift) - 1u);
    let mid = 1u << (shift - 1u);
    if (rem > mid || (rem == mid && (half & 1u) == 1u)) { half = half + 1u; }
    return sign | half;
  }
  var half = (u32(e) << 10u) | (frac >> 13u);
  let rem = frac & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u) == 1u)) { half = half + 1u; }
  return sign | half;
}
fn f32_to_bf16(x: u32) -> u32 {
  if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu) != 0u) { return (x >> 16u) | 0x40u; }
  return ((x + 0x7fffu + ((x >> 16u) & 1u)) >> 16u) & 0xffffu;
}
// Truncation toward zero, saturating at the int32 range, NaN to 0 (WGSL leaves those cases undefined).
fn f32_to_i32(x: u32) -> u32 {
  let f = bitcast<f32>(x);
  if (is_nan(f)) { return 0u; }
  if (f >= 2147483648.0) { return 0x7fffffffu; }
  if (f <= -2147483648.0) { return 0x80000000u; }
  return bitcast<u32>(i32(f));
}`;

/** The float32 bits of an element of `from` held in v (bits). */
function widen(from: DType, v: string): string {
  switch (from) {
    case 'float32': return v;
    case 'int32': return `bitcast<u32>(f32(bitcast<i32>(${v})))`;
    case 'float16': return `f16_to_f32(${v})`;
    case 'bfloat16': return `(${v} << 16u)`;
  }
}

/** The body of f(v0: u32) -> u32 converting bits of `from` to bits of `to`, always through the float32 value. */
export function castBody(from: DType, to: DType): string {
  if (from === to) return 'return v0;';
  const f = widen(from, 'v0');
  switch (to) {
    case 'float32': return `return ${f};`;
    case 'int32': return `return f32_to_i32(${f});`;
    case 'float16': return `return f32_to_f16(${f});`;
    case 'bfloat16': return `return f32_to_bf16(${f});`;
  }
}
