import { test } from 'node:test';
import assert from 'node:assert/strict';
import { affineRange, broadcastStrides, mergeAxes } from './windows.js';
import { Rng } from '../../random.js';

/** The smallest and largest index by visiting every position of the run. */
function bruteRange(dims: number[], strides: number[], start: number, end: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let f = start; f < end; f++) {
    let rem = f, idx = 0;
    for (let d = dims.length - 1; d >= 0; d--) { idx += (rem % dims[d]!) * strides[d]!; rem = Math.floor(rem / dims[d]!); }
    lo = Math.min(lo, idx); hi = Math.max(hi, idx);
  }
  return [lo, hi + 1];
}

test('affineRange gives the exact index range of every run of positions', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 400; trial++) {
    const rank = 1 + Math.floor(rng.uniform() * 4);
    const dims = Array.from({ length: rank }, () => 1 + Math.floor(rng.uniform() * 5));
    // Broadcast (0), permuted and padded strides: every non-negative pattern the kernels produce.
    const strides = dims.map(() => (rng.uniform() < 0.3 ? 0 : Math.floor(rng.uniform() * 40)));
    const total = dims.reduce((a, b) => a * b, 1);
    const start = Math.floor(rng.uniform() * total);
    const end = start + 1 + Math.floor(rng.uniform() * (total - start));
    assert.deepEqual(affineRange(dims, strides, start, end), bruteRange(dims, strides, start, end), `dims ${dims} strides ${strides} [${start}, ${end})`);
  }
});

test('mergeAxes merges axes every operand steps across as one, and drops size-1 axes', () => {
  const out = [2, 3, 1, 4];
  const m = mergeAxes(out, [broadcastStrides(out, [2, 3, 1, 4]), broadcastStrides(out, [4])]);
  assert.deepEqual(m.dims, [6, 4]);
  assert.deepEqual(m.strides, [[4, 1], [0, 1]]);
  const same = mergeAxes(out, [broadcastStrides(out, out)]);
  assert.deepEqual(same.dims, [24]);
});
