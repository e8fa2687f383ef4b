/**
 * Which elements of an operand a chunk of work touches, so that a kernel over a tensor larger than
 * maxStorageBufferBindingSize can run as several dispatches, each binding only the window it reads.
 *
 * Elementwise and copy kernels read operand element Σ_d c_d·s_d (+ a constant) for output coordinates c, with
 * strides s ≥ 0 (0 along broadcast axes). For a run [start, end) of row-major output positions, the smallest and
 * largest such index are found exactly by splitting the run into boxes (a fixed prefix, one axis over a range, the
 * remaining axes free), on each of which the affine map is minimal at the low corner and maximal at the high one.
 */
export function affineRange(dims: readonly number[], strides: readonly number[], start: number, end: number): [number, number] {
  if (end <= start) return [0, 0];
  const n = dims.length;
  if (n === 0) return [0, 1];
  const unravel = (flat: number): number[] => {
    const c = new Array<number>(n);
    for (let d = n - 1; d >= 0; d--) { c[d] = flat % dims[d]!; flat = Math.floor(flat / dims[d]!); }
    return c;
  };
  // tail[d]: the largest value the axes d.. can add.
  const tail = new Array<number>(n + 1).fill(0);
  for (let d = n - 1; d >= 0; d--) tail[d] = tail[d + 1]! + strides[d]! * (dims[d]! - 1);
  const a = unravel(start), b = unravel(end - 1);
  let lo = Infinity, hi = -Infinity;
  const box = (fixed: number, axis: number, from: number, to: number) => {
    if (from > to) return;
    lo = Math.min(lo, fixed + strides[axis]! * from);
    hi = Math.max(hi, fixed + strides[axis]! * to + tail[axis + 1]!);
  };
  let prefix = 0, p = 0;
  while (p < n && a[p] === b[p]) { prefix += a[p]! * strides[p]!; p++; }
  if (p === n) return [prefix, prefix + 1];
  // Whole slices strictly between a[p] and b[p].
  box(prefix, p, a[p]! + 1, b[p]! - 1);
  // The positions ≥ a with a[..p] fixed, and those ≤ b with b[..p] fixed.
  for (const [c, upper] of [[a, true], [b, false]] as const) {
    let fixed = prefix + c[p]! * strides[p]!;
    for (let q = p + 1; q < n; q++) {
      if (upper) box(fixed, q, c[q]! + 1, dims[q]! - 1);
      else box(fixed, q, 0, c[q]! - 1);
      fixed += c[q]! * strides[q]!;
    }
    lo = Math.min(lo, fixed);
    hi = Math.max(hi, fixed);
  }
  return [lo, hi + 1];
}

/** Row-major strides of a shape. */
export function contiguousStrides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  for (let d = dims.length - 1, acc = 1; d >= 0; d--) { s[d] = acc; acc *= dims[d]!; }
  return s;
}

/** An operand's strides over the output's axes when it is broadcast from `shape`: 0 along broadcast axes. */
export function broadcastStrides(out: readonly number[], shape: readonly number[]): number[] {
  const st = contiguousStrides(shape);
  const n = out.length;
  return out.map((_, i) => {
    const j = i - (n - shape.length);
    return j < 0 || shape[j] === 1 ? 0 : st[j]!;
  });
}

/**
 * The output's axes simplified for index arithmetic: size-1 axes dropped and neighbours merged wherever every
 * operand steps across both as across one axis (contiguous, or broadcast over both), so that the common cases
 * (same shapes, a bias over the last axis, a slice) need one to three axes instead of the tensor's rank.
 */
export interface MergedAxes { dims: number[]; strides: number[][]; contiguous: number[] }

export function mergeAxes(out: readonly number[], operandStrides: readonly (readonly number[])[]): MergedAxes {
  const dims: number[] = [];
  const strides: number[][] = operandStrides.map(() => []);
  for (let d = 0; d < out.length; d++) {
    const size = out[d]!;
    if (size === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && operandStrides.every((st, o) => strides[o]![k] === st[d]! * size)) {
      dims[k] = dims[k]! * size;
      operandStrides.forEach((st, o) => { strides[o]![k] = st[d]!; });
      continue;
    }
    dims.push(size);
    operandStrides.forEach((st, o) => strides[o]!.push(st[d]!));
  }
  return { dims, strides, contiguous: contiguousStrides(dims) };
}
