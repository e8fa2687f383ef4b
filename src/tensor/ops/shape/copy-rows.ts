import { Tensor } from '../../tensor.js';
import { FactlabError } from '../../errors.js';
import { tensor } from '../../creation.js';
import { taping } from '../../autodiff.js';
import { cpuData } from '../../backends/cpu/cpu-backend.js';
import { gpuStorage, WebGPUBackend } from '../../backends/webgpu/webgpu-backend.js';
import { launch } from '../../backends/webgpu/kernel.js';

/**
 * Copies rows of a tensor onto other rows of the same tensor, in place. This is not an op: it is outside the tape
 * and the functional rules every op follows, for one use where they cost too much. Activation patching restores a
 * few (batch row, position) places of an activation from another batch row; as an op (`where`), that reads and
 * writes the whole activation, and causal tracing does it at thousands of sites per fact (74 of 2,050 GPU
 * milliseconds per fact on the H100, docs/performance.md). In place, it touches only the rows copied.
 *
 * That is safe only where nothing else can see the change: `canCopyRowsInPlace` says when. Then the tensor is the
 * only handle on its storage (no view, capture or tape shadow shares it), no gradient is being taken, and the
 * caller gives up the old handle for the one returned (a hook site's value replaced by the patched one).
 */

/** Whether `copyRowsInPlace(x, ...)` may run: float32, the only handle on its storage, no tape recording, one binding on a GPU. */
export function canCopyRowsInPlace(x: Tensor): boolean {
  if (x.isDisposed || x.dtype !== 'float32' || x.storage.refs !== 1 || taping()) return false;
  const b = x.storage.backend;
  if (b instanceof WebGPUBackend) return gpuStorage(x).buffer.size <= b.limits.maxBinding;
  return b.name === 'cpu';
}

/**
 * x seen as [rows, width]: row to[i] takes the values of row from[i], for each i, in place (no row copied to is also
 * copied from, except onto itself). Returns a new handle on x's storage; x itself stays valid and shows the change.
 * Throws where `canCopyRowsInPlace` is false or a row is outside x.
 */
export function copyRowsInPlace(x: Tensor, width: number, from: Int32Array, to: Int32Array): Tensor {
  if (!canCopyRowsInPlace(x)) throw new FactlabError(`copyRowsInPlace: tensor ${x.describe()} is shared, not float32, or recorded for a gradient: it cannot be changed in place`);
  const rows = x.size / width;
  if (!Number.isInteger(rows) || from.length !== to.length) throw new FactlabError(`copyRowsInPlace: ${from.length} sources and ${to.length} destinations for rows of ${width} in ${x.describe()}`);
  const copied = new Set<number>(to);
  for (let i = 0; i < from.length; i++) {
    const f = from[i]!, t = to[i]!;
    if (f < 0 || f >= rows || t < 0 || t >= rows) throw new FactlabError(`copyRowsInPlace: row ${f < 0 || f >= rows ? f : t} is outside the ${rows} rows of ${x.describe()}`);
    if (f !== t && copied.has(f)) throw new FactlabError(`copyRowsInPlace: row ${f} is both copied from and copied to`);
  }
  const out = new Tensor(x.shape, x.dtype, x.storage, x.offset);
  if (from.length === 0) return out;
  if (x.storage.backend instanceof WebGPUBackend) {
    const pairs = new Int32Array(2 * from.length);
    for (let i = 0; i < from.length; i++) { pairs[2 * i] = to[i]!; pairs[2 * i + 1] = from[i]!; }
    const p = tensor(pairs, [pairs.length], { backend: x.storage.backend });
    try {
      launch({
        op: 'copyRowsInPlace', operands: [{ name: 'x', tensor: out, write: true }, { name: 'pairs', tensor: p }],
        u32: { width },
        code: `fn item(i: u32) {
  let k = i / P.width;
  let e = i % P.width;
  st_x(u32(ld_pairs(2u * k)) * P.width + e, ld_x(u32(ld_pairs(2u * k + 1u)) * P.width + e));
}`,
        items: { count: from.length * width },
      });
    } finally {
      p.dispose();
    }
  } else {
    const v = cpuData(out);
    for (let i = 0; i < from.length; i++) v.copyWithin(to[i]! * width, from[i]! * width, (from[i]! + 1) * width);
  }
  return out;
}
