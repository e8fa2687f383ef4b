import assert from 'node:assert/strict';
import type { Backend } from '../../backends/backend.js';
import { tensor } from '../../creation.js';
import { valueAndGrad } from '../../autodiff.js';
import { reshape } from './reshape.js';
import { sum } from '../reduce/sum.js';
import { mul } from '../elementwise/binary.js';
import { canCopyRowsInPlace, copyRowsInPlace } from './copy-rows.js';

/** copyRowsInPlace against a naive copy, on `backend` (default: the current one); shared by the CPU and GPU tests. */
export async function checkCopyRows(backend?: Backend): Promise<void> {
  const [rows, width] = [7, 5];
  const values = Array.from({ length: rows * width }, (_, i) => Math.sin(i + 1));
  const on = backend ? { backend } : {};
  const x = tensor(values, [rows, width], on);
  assert.ok(canCopyRowsInPlace(x));
  const from = Int32Array.from([0, 0, 2, 4]), to = Int32Array.from([3, 5, 6, 4]);
  const y = copyRowsInPlace(x, width, from, to);
  const want = [...values];
  from.forEach((f, i) => { for (let e = 0; e < width; e++) want[to[i]! * width + e] = values[f * width + e]!; });
  assert.deepEqual(Array.from(await y.data()), Array.from(Float32Array.from(want)));
  // x shows the change: it is the same storage, and its holder gives it up for y.
  assert.deepEqual(Array.from(await x.data()), Array.from(await y.data()));
  // Now two handles share the storage: no more changes in place.
  assert.equal(canCopyRowsInPlace(y), false);
  assert.throws(() => copyRowsInPlace(y, width, from, to), /shared, not float32, or recorded for a gradient/);
  x.dispose();
  // A view of a larger storage, rows outside it and a row both copied from and to.
  const z = tensor(values, [rows, width], on);
  assert.throws(() => copyRowsInPlace(z, width, Int32Array.from([0]), Int32Array.from([7])), /row 7 is outside the 7 rows/);
  assert.throws(() => copyRowsInPlace(z, width, Int32Array.from([1, 0]), Int32Array.from([2, 1])), /row 1 is both copied from and copied to/);
  const view = reshape(z, [rows * width]);
  z.dispose();
  assert.ok(canCopyRowsInPlace(view), 'a view that is the last handle on its storage');
  const w = copyRowsInPlace(view, width, Int32Array.from([6]), Int32Array.from([0]));
  assert.deepEqual(Array.from(await w.data()).slice(0, width), Array.from(Float32Array.from(values.slice(6 * width))));
  view.dispose(); w.dispose(); y.dispose();
  // Integer tensors and tensors recorded for a gradient are refused.
  const ids = tensor(new Int32Array([1, 2, 3, 4]), [2, 2], on);
  assert.equal(canCopyRowsInPlace(ids), false);
  ids.dispose();
  const p = tensor([1, 2, 3, 4], [2, 2], on);
  const { value, grads } = valueAndGrad(() => {
    const q = mul(p, p);
    assert.equal(canCopyRowsInPlace(q), false, 'a tape is recording');
    return sum(q);
  }, [p]);
  value.dispose(); grads.forEach((g) => g.dispose()); p.dispose();
}
