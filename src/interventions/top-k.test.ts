import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../tensor/random.js';
import { topK } from './top-k.js';

test('topK finds the k largest in order, within a range', () => {
  const rng = new Rng(4);
  for (let trial = 0; trial < 50; trial++) {
    const v = Array.from({ length: 40 }, () => Math.round(rng.uniform() * 20));
    const from = trial % 7, to = 40 - (trial % 5);
    for (const k of [1, 2, 3]) {
      const got = topK(v, k, from, to).map((i) => v[from + i]!);
      const want = v.slice(from, to).sort((a, b) => b - a).slice(0, k);
      assert.deepEqual(got, want);
    }
  }
});

test('topK orders equal values by index, as a sort by value then index does', () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 30; trial++) {
    const v = Array.from({ length: 60 }, () => Math.round(rng.uniform() * 6));
    for (const k of [1, 5, 60]) {
      const want = v.map((_, i) => i).sort((a, b) => v[b]! - v[a]! || a - b).slice(0, k);
      assert.deepEqual(topK(v, k), want);
    }
  }
});
