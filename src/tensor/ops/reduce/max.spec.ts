import type { OpSpec, ForwardCase, GradCase } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { argmax, max, topk } from './max.js';
import { distinct, groups } from './spec-reference.js';

type Case = [shape: Shape, axis: number | undefined, keepdims: boolean, expectedShape: Shape];
const cases: Case[] = [
  [[2, 3, 4], 1, false, [2, 4]],
  [[2, 3, 4], -1, true, [2, 3, 1]],
  [[2, 3, 4], 0, false, [3, 4]],
  [[2, 3, 4], undefined, false, []],
  [[2, 3, 4], undefined, true, [1, 1, 1]],
  [[3, 1, 4], 1, false, [3, 4]],
  [[7], 0, false, []],
];

/** Values on a coarse grid, so that most groups hold ties and the first-occurrence rule is exercised. */
const tied = (n: number, seed: number) => values(n, seed).map((v) => Math.round(v * 2) / 2);

/** The first largest of a group, NaN counting as largest: [value, position in the group]. */
function firstMax(xs: number[]): [number, number] {
  let bi = 0;
  for (let j = 1; j < xs.length; j++) if (Number.isNaN(xs[j]!) ? !Number.isNaN(xs[bi]!) : xs[j]! > xs[bi]!) bi = j;
  return [xs[bi]!, bi];
}

function reference(xv: number[], s: Shape, axis: number | undefined): [number[], number[]] {
  const axes = axis === undefined ? [...s.keys()] : [axis < 0 ? axis + s.length : axis];
  const r = groups(s, axes).map((g) => firstMax(g.map((i) => xv[i]!)));
  return [r.map((p) => p[0]), r.map((p) => p[1])];
}

const forward: ForwardCase[] = cases.flatMap(([s, axis, keepdims, so], k): ForwardCase[] => {
  const name = `[${s}] axis ${axis ?? 'all'}${keepdims ? ' keepdims' : ''}`;
  return [
    { op: 'max', name, run() {
      const xv = f32(values(size(s), 700 + k));
      return { actual: max(tensor(xv, s), axis, keepdims), expected: reference(xv, s, axis)[0], shapes: [so] };
    } },
    { op: 'argmax', name: `${name} with ties`, run() {
      const xv = tied(size(s), 800 + k);
      return { actual: argmax(tensor(xv, s), axis, keepdims), expected: reference(xv, s, axis)[1], shapes: [so] };
    } },
  ];
});

/** Stable descending order of a row, NaN first: the k first entries as [values, indices]. */
function topkRef(row: number[], k: number): [number[], number[]] {
  const rank = (v: number) => (Number.isNaN(v) ? Infinity : v);
  const order = [...row.keys()].sort((a, b) => {
    const na = Number.isNaN(row[a]!), nb = Number.isNaN(row[b]!);
    if (na !== nb) return na ? -1 : 1;
    return rank(row[b]!) - rank(row[a]!) || a - b;
  });
  return [order.slice(0, k).map((i) => row[i]!), order.slice(0, k)];
}

function topkCase(name: string, s: Shape, k: number, xv: number[]): ForwardCase {
  return { op: 'topk', name, run() {
    const n = s[s.length - 1]!;
    const vals: number[] = [], idxs: number[] = [];
    for (let r = 0; r * n < xv.length; r++) {
      const [v, i] = topkRef(xv.slice(r * n, (r + 1) * n), k);
      vals.push(...v); idxs.push(...i);
    }
    const so = [...s.slice(0, -1), k];
    return { actual: topk(tensor(xv, s), k), expected: [vals, idxs], shapes: [so, so] };
  } };
}

function spaced(s: Shape, seed: number): Tensor {
  return tensor(distinct(size(s), seed), s);
}

export const spec: OpSpec = {
  forward: [
    ...forward,
    { op: 'max', name: 'NaN is the max, and its index is reported', run: () => ({
      actual: [max(tensor([1, NaN, 3, 2, 5, 4], [2, 3]), 1), argmax(tensor([1, NaN, 3, NaN, 5, 4], [2, 3]), 1)],
      expected: [[NaN, 5], [1, 0]],
    }) },
    { op: 'max', name: 'all -Infinity', run: () => ({ actual: max(tensor([-Infinity, -Infinity])), expected: [-Infinity] }) },
    topkCase('[3,10] k=3', [3, 10], 3, f32(values(30, 900))),
    topkCase('[2,3,20] k=5 with ties', [2, 3, 20], 5, tied(120, 901)),
    topkCase('[2,100] k=70 with ties (full sort)', [2, 100], 70, tied(200, 902)),
    topkCase('[4,6] k=6', [4, 6], 6, f32(values(24, 903))),
    topkCase('[3,5] k=0', [3, 5], 0, f32(values(15, 904))),
    topkCase('[8] k=1 with NaN', [8], 2, [0, 1, NaN, 2, NaN, -1, 3, 0.5]),
    topkCase('[1,90] k=80 descending order input', [1, 90], 80, Array.from({ length: 90 }, (_, i) => i - 45)),
  ],
  grad: [
    ...cases.map(([s, axis, keepdims], k): GradCase => ({
      op: 'max', name: `[${s}] axis ${axis ?? 'all'}${keepdims ? ' keepdims' : ''}`, covers: ['maxTopkGrad'],
      inputs: () => [spaced(s, 1000 + k)],
      f: (x: Tensor) => max(x, axis, keepdims),
    })),
    { op: 'topk', name: '[3,10] k=4', covers: ['maxTopkGrad'], inputs: () => [spaced([3, 10], 1100)], f: (x: Tensor) => topk(x, 4)[0] },
    { op: 'topk', name: '[2,2,80] k=70 (full sort)', covers: ['maxTopkGrad'], inputs: () => [spaced([2, 2, 80], 1101)], f: (x: Tensor) => topk(x, 70)[0] },
  ],
  errors: [
    { op: 'max', name: 'int32 input', run: () => max(tensor(new Int32Array([1, 2])), 0), message: /max: input must be float32 \(inputs: #0 int32\[2\]\)/ },
    { op: 'max', name: 'axis out of range', run: () => max(tensor(values(6, 1), [2, 3]), 2), message: /max: axis 2 is out of range for a tensor of rank 2 \(inputs: #0 float32\[2,3\]\)/ },
    { op: 'max', name: 'empty axis', run: () => max(tensor(new Float32Array(0), [3, 0]), 1), message: /max: axis 1 is empty \(inputs: #0 float32\[3,0\]\)/ },
    { op: 'argmax', name: 'empty input', run: () => argmax(tensor(new Float32Array(0), [0])), message: /argmax: the input is empty/ },
    { op: 'argmax', name: 'axis out of range', run: () => argmax(tensor(values(6, 1), [2, 3]), -3), message: /argmax: axis -3 is out of range/ },
    { op: 'topk', name: 'k larger than the axis', run: () => topk(tensor(values(6, 1), [2, 3]), 4), message: /topk: k=4 is out of range for a last axis of length 3 \(inputs: #0 float32\[2,3\]\)/ },
    { op: 'topk', name: 'fractional k', run: () => topk(tensor(values(6, 1), [2, 3]), 1.5), message: /topk: k=1.5 is out of range/ },
    { op: 'topk', name: 'scalar input', run: () => topk(tensor([1], []), 1), message: /topk: the input needs at least one axis/ },
  ],
};
