import type { OpSpec } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { vjp } from '../../autodiff.js';
import { cast } from './cast.js';
import type { Tensor } from '../../tensor.js';

const half = (bits: number[]) => tensor(Uint16Array.from(bits), [bits.length], { dtype: 'float16' });
const bf16 = (bits: number[]) => tensor(Uint16Array.from(bits), [bits.length], { dtype: 'bfloat16' });

/** Reads a tensor and checks exact equality, infinities and signed zeros included (assertClose tolerates ±∞ mixups). */
async function exact(t: Tensor, expected: number[]): Promise<number[]> {
  const got = Array.from(await t.data());
  got.forEach((v, i) => { if (!Object.is(v, expected[i])) throw new Error(`element ${i} is ${v}, expected ${expected[i]}`); });
  return got;
}

export const spec: OpSpec = {
  forward: [
    { op: 'cast', name: 'float16 → float32: max, min normal, subnormals, ±0, ±∞', async run() {
      // Hand-decoded: 0x7bff = 65504, 0x0400 = 2^-14, 0x03ff = 1023·2^-24, 0x0001 = 2^-24.
      const expected = [65504, 2 ** -14, 1023 * 2 ** -24, 2 ** -24, 1, -2, -0, Infinity, -Infinity];
      const y = cast(half([0x7bff, 0x0400, 0x03ff, 0x0001, 0x3c00, 0xc000, 0x8000, 0x7c00, 0xfc00]), 'float32');
      if (y.dtype !== 'float32') throw new Error(`dtype ${y.dtype}`);
      await exact(y, expected);
      return { actual: y, expected, atol: 0, rtol: 0 };
    } },
    { op: 'cast', name: 'float32 → float16: rounding, subnormals, overflow, underflow', run() {
      // 6.1e-5 is just under the smallest normal, so it rounds to the subnormal 1023·2^-24; 1e-7 ≈ 1.68·2^-24 → 2;
      // 1/3 → 0x3555; 70000 overflows to +∞ (0x7c00); 1e-8 < 2^-25 underflows to 0.
      const x = tensor([65504, 6.1e-5, 1e-7, 1 / 3, -2.5, 70000, 1e-8, -0]);
      const y = cast(x, 'float16');
      if (y.dtype !== 'float16') throw new Error(`dtype ${y.dtype}`);
      return { actual: y, expected: [0x7bff, 0x03ff, 0x0002, 0x3555, 0xc100, 0x7c00, 0x0000, 0x8000], atol: 0, rtol: 0 };
    } },
    { op: 'cast', name: 'float32 → float16 → float32 round-trips representable values', run() {
      const v = [65504, 2 ** -14, 2 ** -24, 0.5, -1.75, 1025];
      const h = cast(tensor(v), 'float16');
      const y = cast(h, 'float32');
      h.dispose();
      return { actual: y, expected: v, atol: 0, rtol: 0 };
    } },
    { op: 'cast', name: 'bfloat16 → float32', run() {
      // 0x3f80 = 1, 0xc049 = -3.140625, 0x7f7f = largest finite (2−2^-7)·2^127, 0x0001 = 2^-133 (subnormal).
      return { actual: cast(bf16([0x3f80, 0xc049, 0x7f7f, 0x0001]), 'float32'), expected: [1, -3.140625, (2 - 2 ** -7) * 2 ** 127, 2 ** -133], atol: 0, rtol: 0 };
    } },
    { op: 'cast', name: 'float32 → bfloat16 rounds to nearest even', run() {
      // π = 0x40490fdb truncates to 0x4049; 1+2^-8 ties to even 0x3f80; 1+3·2^-8 ties to even 0x3f82; -0 → 0x8000.
      return { actual: cast(tensor([1, Math.PI, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -0]), 'bfloat16'), expected: [0x3f80, 0x4049, 0x3f80, 0x3f82, 0x8000], atol: 0, rtol: 0 };
    } },
    // 65504 = 0x477fe000 in float32 rounds up to bfloat16 0x4780 (65536).
    { op: 'cast', name: 'float16 → bfloat16 through the float32 value', run: () => ({ actual: cast(half([0x3c00, 0xc000, 0x7bff]), 'bfloat16'), expected: [0x3f80, 0xc000, 0x4780], atol: 0, rtol: 0 }) },
    { op: 'cast', name: 'int32 → float32', run: () => ({ actual: cast(tensor(Int32Array.from([0, -7, 2 ** 24 + 1, 2147483647]), [2, 2]), 'float32'), expected: [0, -7, 2 ** 24, 2 ** 31], shapes: [[2, 2]], atol: 0, rtol: 0 }) },
    { op: 'cast', name: 'float32 → int32 truncates toward zero and saturates', run() {
      return { actual: cast(tensor([1.9, -1.9, 0.5, -0.5, 3e9, -3e9, NaN, 7]), 'int32'), expected: [1, -1, 0, 0, 2147483647, -2147483648, 0, 7], atol: 0, rtol: 0 };
    } },
    { op: 'cast', name: 'float32 → float32 is a copy', run() {
      const x = tensor([1, 2, 3], [3, 1]);
      const y = cast(x, 'float32');
      if (y.storage === x.storage) throw new Error('cast returned a view');
      x.dispose();
      return { actual: y, expected: [1, 2, 3], shapes: [[3, 1]] };
    } },
  ],
  grad: [
    { op: 'cast', name: 'float32 → float32 (identity)', inputs: () => [tensor([0.5, -1, 2, 0.25], [2, 2])], f: (x: Tensor) => cast(x, 'float32') },
  ],
  errors: [
    { op: 'cast', name: 'unknown dtype', run: () => cast(tensor([1]), 'float64' as never), message: /cast: unknown dtype float64 \(expected float32, int32, float16 or bfloat16\) \(inputs: #\d+ float32\[1\]\)/ },
    { op: 'cast', name: 'no gradient through a float16 round trip', run() {
      const x = tensor([1, 2]);
      const v = vjp(() => cast(cast(x, 'float16'), 'float32'), [x]);
      try { return v.pullback(tensor([1, 1])); } finally { v.dispose(); }
    }, message: /took no part in computing the output/ },
  ],
};
