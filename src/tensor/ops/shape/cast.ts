import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import {
  bfloat16ToFloat32, float16ToFloat32, float32ToBfloat16, float32ToFloat16, isDType, type AnyTypedArray, type DType,
} from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { cpuData } from '../../backends/cpu/cpu-backend.js';
import { reshape } from './reshape.js';
import { mapElements } from '../../backends/webgpu/elementwise.js';
import { CAST_HELPERS, castBody } from './cast.wgsl.js';

/**
 * Converts between dtypes, always through the float32 value: 16-bit formats widen exactly and narrow with
 * round-to-nearest-even; float→int32 truncates toward zero and saturates at the int32 range (as WGSL's i32()
 * does, so that both backends agree), with NaN becoming 0.
 */
interface CastAttrs { dtype: DType }

const I32_MAX = 2147483647, I32_MIN = -2147483648;

function toInt32(v: number): number {
  if (Number.isNaN(v)) return 0;
  return v >= I32_MAX ? I32_MAX : v <= I32_MIN ? I32_MIN : Math.trunc(v);
}

// Every 16-bit pattern's float32 value, built on first use: a table lookup is several times faster than decoding,
// and widening float16/bfloat16 checkpoints is the hot path of model loading.
const tables: Partial<Record<'float16' | 'bfloat16', Float32Array>> = {};
function table(dtype: 'float16' | 'bfloat16'): Float32Array {
  let t = tables[dtype];
  if (!t) {
    const decode = dtype === 'float16' ? float16ToFloat32 : bfloat16ToFloat32;
    t = tables[dtype] = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = decode(h);
  }
  return t;
}

/** Writes the float32 value of each element of src (any dtype) into out. */
export function widenInto(dtype: DType, src: AnyTypedArray, out: Float32Array): void {
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const t = table(dtype);
    for (let i = 0; i < out.length; i++) out[i] = t[src[i]!]!;
  } else {
    out.set(src);
  }
}

const castOp = defineOp<CastAttrs>({
  name: 'cast',
  infer([x], { dtype }) {
    if (typeof dtype !== 'string' || !isDType(dtype)) throw opError('cast', `unknown dtype ${String(dtype)} (expected float32, int32, float16 or bfloat16)`, [x!]);
    return [{ shape: [...x!.shape], dtype }];
  },
  kernels: {
    cpu({ inputs: [x], outputs: [o], attrs: { dtype } }) {
      const src = cpuData(x!), dst = cpuData(o!);
      if (x!.dtype === dtype) { dst.set(src as never); return; }
      if (dtype === 'float32') { widenInto(x!.dtype, src, dst as Float32Array); return; }
      const v = x!.dtype === 'float32' ? (src as Float32Array) : new Float32Array(src.length);
      if (v !== src) widenInto(x!.dtype, src, v);
      const n = dst.length;
      switch (dtype) {
        case 'int32': for (let i = 0; i < n; i++) dst[i] = toInt32(v[i]!); break;
        case 'float16': for (let i = 0; i < n; i++) dst[i] = float32ToFloat16(v[i]!); break;
        case 'bfloat16': for (let i = 0; i < n; i++) dst[i] = float32ToBfloat16(v[i]!); break;
      }
    },
    webgpu({ inputs: [x], outputs: [o], attrs: { dtype } }) {
      mapElements({ op: 'cast', out: o!, inputs: [{ tensor: x!, mode: 'bits' }], outMode: 'bits', body: castBody(x!.dtype, dtype), helpers: CAST_HELPERS });
    },
  },
  // Only float32→float32 (the identity) carries a gradient: the 16-bit formats are storage, never trained through,
  // and int32 is piecewise constant. The identity's gradient is a new handle on g (a view), not g itself, whose
  // owner may dispose it independently of the result.
  backward: ([g], { inputs: [x], attrs: { dtype } }) => [x!.dtype === 'float32' && dtype === 'float32' ? reshape(g!, g!.shape) : null],
});

/** x converted to `dtype` (a copy, even when the dtype is unchanged). */
export function cast(x: Tensor, dtype: DType): Tensor {
  return runOp(castOp, [x], { dtype })[0]!;
}
