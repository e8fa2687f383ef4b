/**
 * float32 is the only compute type; int32 carries token ids and indices; float16 and bfloat16 are storage
 * formats of checkpoints and of weights kept at half the memory, widened with `cast` before use (matmul widens its
 * operands itself, as it reads them). Both 16-bit forms live in a Uint16Array.
 */
export type DType = 'float32' | 'int32' | 'float16' | 'bfloat16';

export type TypedArrayFor<D extends DType> = D extends 'float32' ? Float32Array : D extends 'int32' ? Int32Array : Uint16Array;
export type AnyTypedArray = Float32Array | Int32Array | Uint16Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, int32: 4, float16: 2, bfloat16: 2 };

export function allocTyped(dtype: DType, size: number): AnyTypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(size);
    case 'int32': return new Int32Array(size);
    case 'float16': case 'bfloat16': return new Uint16Array(size);
  }
}

export function isDType(s: string): s is DType {
  return s === 'float32' || s === 'int32' || s === 'float16' || s === 'bfloat16';
}

// IEEE half <-> single conversion, exact in both directions (round-to-nearest-even on narrowing).
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

export function float32ToFloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let frac = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    frac |= 0x800000;
    const shift = 14 - e;
    let half = frac >>> shift;
    const rem = frac & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (frac >>> 13);
  const rem = frac & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

export function bfloat16ToFloat32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

export function float32ToBfloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && bits & 0x7fffff) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}
