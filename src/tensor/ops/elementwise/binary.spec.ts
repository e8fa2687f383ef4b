import type { OpSpec, ForwardCase } from '../../testing/op-spec.js';
import { tensor } from '../../creation.js';
import { add, div, mul, mulSilu, sub, neg } from './binary.js';
import { broadcastIndex, f32, size, values } from '../../testing/reference.js';
import type { Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';

const fns = {
  add: [add, (x: number, y: number) => x + y], sub: [sub, (x: number, y: number) => x - y], mul: [mul, (x: number, y: number) => x * y], div: [div, (x: number, y: number) => x / y],
  mulSilu: [mulSilu, (x: number, y: number) => x * (y / (1 + Math.exp(-y)))],
} as const;
const shapes: [Shape, Shape, Shape][] = [[[2, 3], [2, 3], [2, 3]], [[2, 3, 4], [4], [2, 3, 4]], [[3, 1], [1, 5], [3, 5]], [[2, 1, 4], [3, 1], [2, 3, 4]], [[], [2, 2], [2, 2]]];

function forward(op: keyof typeof fns): ForwardCase[] {
  return shapes.map(([sa, sb, so], k) => ({
    op, name: `${sa}|${sb}`,
    run() {
      const av = f32(values(size(sa), 10 + k)), bv = f32(values(size(sb), 20 + k, 0.5, 2));
      const expected = Array.from({ length: size(so) }, (_, i) => fns[op][1](av[broadcastIndex(so, sa, i)]!, bv[broadcastIndex(so, sb, i)]!));
      return { actual: fns[op][0](tensor(av, sa), tensor(bv, sb)), expected, shapes: [so] };
    },
  }));
}

const grad = (op: keyof typeof fns) => shapes.slice(0, 4).map(([sa, sb], k) => ({
  op, name: `${sa}|${sb}`,
  inputs: () => [tensor(values(size(sa), 30 + k), sa), tensor(values(size(sb), 40 + k, 0.5, 2), sb)],
  f: (a: Tensor, b: Tensor) => fns[op][0](a, b),
}));

export const spec: OpSpec = {
  forward: [
    ...forward('add'), ...forward('sub'), ...forward('mul'), ...forward('div'), ...forward('mulSilu'),
    { op: 'mul', name: 'number operand and neg', run: () => ({ actual: [mul(tensor([1, -2]), 3), neg(tensor([1, -2]))], expected: [[3, -6], [-1, 2]] }) },
  ],
  grad: [...grad('add'), ...grad('sub'), ...grad('mul'), ...grad('div'), ...grad('mulSilu')],
  errors: [
    { op: 'add', name: 'shapes that do not broadcast', run: () => add(tensor([1, 2, 3]), tensor([1, 2])), message: /add: shapes do not broadcast \(inputs: #\d+ float32\[3\], #\d+ float32\[2\]\)/ },
    { op: 'mul', name: 'int32 operand', run: () => mul(tensor(new Int32Array([1])), tensor([1])), message: /mul: both operands must be float32/ },
    { op: 'mulSilu', name: 'shapes that do not broadcast', run: () => mulSilu(tensor([1, 2, 3]), tensor([1, 2])), message: /mulSilu: shapes do not broadcast/ },
  ],
};
