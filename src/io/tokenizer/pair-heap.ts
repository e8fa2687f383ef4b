/**
 * A binary max-heap of (count, key) for the BPE trainer: the highest count first, and among equal counts the
 * smallest key. Keys encode a pair of token ids as left·2^21 + right, so the smallest key is the pair with the
 * smallest left id, then the smallest right id: the trainer's tie-breaking rule.
 *
 * Entries go stale as counts change; the trainer checks each popped entry against the live count (see bpe-merges.ts).
 */
export class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i]!;
    this.counts[i] = this.counts[j]!;
    this.counts[j] = c;
    const k = this.keys[i]!;
    this.keys[i] = this.keys[j]!;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** The top entry's count and key, removed; undefined when empty. */
  pop(): { count: number; key: number } | undefined {
    const n = this.counts.length;
    if (n === 0) return undefined;
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (n > 1) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < n - 1 && this.above(l, best)) best = l;
        if (r < n - 1 && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}
