/**
 * Indices of the k largest values in [from, to), largest first and the earlier index first among equals, counted
 * from `from`: one pass, for small k (decoding, LRE's top tokens), where sorting a vocabulary would cost far more.
 */
export function topK(values: ArrayLike<number>, k: number, from = 0, to = values.length): number[] {
  const idx: number[] = [];
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    if (idx.length === k && v <= values[idx[k - 1]!]!) continue;
    let j = Math.min(idx.length, k - 1);
    while (j > 0 && values[idx[j - 1]!]! < v) j--;
    idx.splice(j, 0, i);
    if (idx.length > k) idx.pop();
  }
  return idx.map((i) => i - from);
}
