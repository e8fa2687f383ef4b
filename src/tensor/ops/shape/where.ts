import { defineOp, runOp } from '../../op.js';
import { opError } from '../../errors.js';
import { broadcastShapes, stridesOf, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuData } from '../../backends/cpu/cpu-backend.js';
import { full } from '../../creation.js';
import { sumTo } from './broadcast.js';
import { mapElements } from '../../backends/webgpu/elementwise.js';

/**
 * where(mask, a, b): a where mask ≠ 0, else b, all three broadcast together. It is how activation patching
 * splices one run's activations into another, so its gradient reaches exactly the branch that was taken.
 */
const whereOp = defineOp<Record<string, never>>({
  name: 'where',
  infer(inputs) {
    const [m, a, b] = inputs as [Tensor, Tensor, Tensor];
    if (m.dtype !== 'float32' && m.dtype !== 'int32') throw opError('where', `the mask must be float32 or int32, got ${m.dtype}`, inputs);
    if (a.dtype !== b.dtype) throw opError('where', `the branches have different dtypes (${a.dtype}, ${b.dtype})`, inputs);
    const ab = broadcastShapes(a.shape, b.shape);
    const shape = ab && broadcastShapes(m.shape, ab);
    if (!shape) throw opError('where', 'shapes do not broadcast', inputs);
    return [{ shape, dtype: a.dtype }];
  },
  kernels: {
    cpu({ inputs, outputs: [o] }) {
      const [m, a, b] = inputs as [Tensor, Tensor, Tensor];
      const mv = cpuData(m), av = cpuData(a), bv = cpuData(b), dst = cpuData(o!);
      const out = o!.shape;
      if (dst.length === 0) return;
      const n = out.length;
      const strides = (s: Shape) => {
        const st = stridesOf(s);
        return out.map((_, i) => {
          const j = i - (n - s.length);
          return j < 0 || s[j] === 1 ? 0 : st[j]!;
        });
      };
      const sm = strides(m.shape), sa = strides(a.shape), sb = strides(b.shape);
      // One innermost row at a time, with the three operands' steps along it (0 where broadcast).
      const len = n === 0 ? 1 : out[n - 1]!;
      const km = n === 0 ? 0 : sm[n - 1]!, ka = n === 0 ? 0 : sa[n - 1]!, kb = n === 0 ? 0 : sb[n - 1]!;
      const rows = dst.length / len;
      const idx = new Array<number>(Math.max(0, n - 1)).fill(0);
      let mi = 0, ai = 0, bi = 0;
      for (let r = 0; r < rows; r++) {
        const base = r * len;
        for (let j = 0; j < len; j++) dst[base + j] = mv[mi + j * km] !== 0 ? av[ai + j * ka]! : bv[bi + j * kb]!;
        for (let d = n - 2; d >= 0; d--) {
          idx[d]!++;
          mi += sm[d]!; ai += sa[d]!; bi += sb[d]!;
          if (idx[d]! < out[d]!) break;
          mi -= sm[d]! * out[d]!; ai -= sa[d]! * out[d]!; bi -= sb[d]! * out[d]!;
          idx[d] = 0;
        }
      }
    },
    webgpu({ inputs, outputs: [o] }) {
      // On bits, so that every dtype is copied exactly; a float mask of −0 counts as zero and NaN as non-zero, as on the CPU.
      const nonzero = inputs[0]!.dtype === 'float32' ? '(v0 & 0x7fffffffu) != 0u' : 'v0 != 0u';
      mapElements({ op: 'where', out: o!, inputs: inputs.map((tensor) => ({ tensor, mode: 'bits' as const })), outMode: 'bits', body: `return select(v2, v1, ${nonzero});` });
    },
  },
  backward([g], { inputs: [m, a, b] }) {
    const zero = full([], 0, { backend: g!.backend });
    const ga = sumTo(where(m!, g!, zero), a!.shape);
    const gb = sumTo(where(m!, zero, g!), b!.shape);
    return [null, ga, gb];
  },
});

/** Elementwise: a where mask ≠ 0, b elsewhere (mask float32 or int32; mask, a and b broadcast together). */
export function where(mask: Tensor, a: Tensor, b: Tensor): Tensor {
  return runOp(whereOp, [mask, a, b], {})[0]!;
}
