import { defineOp, runOp, type OpDef } from '../../op.js';
import { opError } from '../../errors.js';
import { broadcastShapes, sameShape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { tensor } from '../../creation.js';
import { broadcastTo, sumTo } from '../shape/broadcast.js';
import { forEachBroadcastRow } from '../../backends/cpu/broadcast-rows.js';
import { mapElements } from '../../backends/webgpu/elementwise.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';
import { sigmoid as sigmoid64 } from './unary-math.js';
import { unaryGrad } from './unary.js';

/**
 * Elementwise arithmetic with NumPy broadcasting; a number operand becomes a scalar tensor on the other's backend.
 * `mulSilu` is a·silu(b), Mamba's gate in one kernel (see mulSilu below).
 */
type Name = 'add' | 'sub' | 'mul' | 'div' | 'mulSilu';

function inferBinary(name: string) {
  return (inputs: readonly Tensor[]) => {
    const [a, b] = inputs as [Tensor, Tensor];
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw opError(name, 'both operands must be float32', inputs);
    const shape = broadcastShapes(a.shape, b.shape);
    if (!shape) throw opError(name, 'shapes do not broadcast', inputs);
    return [{ shape, dtype: 'float32' as const }];
  };
}

type F32 = Float32Array;
/**
 * Every op has its own loops (same shapes; one broadcast row with steps), rather than one loop calling the
 * arithmetic per element: a shared call site goes megamorphic and runs several times slower (see unary.ts).
 */
const LOOPS: Record<Name, [(x: F32, y: F32, o: F32) => void, (x: F32, y: F32, o: F32, oi: number, ai: number, as: number, bi: number, bs: number, len: number) => void]> = {
  add: [
    (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i]! + y[i]!; },
    (x, y, o, oi, ai, as, bi, bs, len) => { for (let j = 0; j < len; j++) o[oi + j] = x[ai + j * as]! + y[bi + j * bs]!; },
  ],
  sub: [
    (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i]! - y[i]!; },
    (x, y, o, oi, ai, as, bi, bs, len) => { for (let j = 0; j < len; j++) o[oi + j] = x[ai + j * as]! - y[bi + j * bs]!; },
  ],
  mul: [
    (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i]! * y[i]!; },
    (x, y, o, oi, ai, as, bi, bs, len) => { for (let j = 0; j < len; j++) o[oi + j] = x[ai + j * as]! * y[bi + j * bs]!; },
  ],
  div: [
    (x, y, o) => { for (let i = 0; i < o.length; i++) o[i] = x[i]! / y[i]!; },
    (x, y, o, oi, ai, as, bi, bs, len) => { for (let j = 0; j < len; j++) o[oi + j] = x[ai + j * as]! / y[bi + j * bs]!; },
  ],
  // silu(b) rounded to float32 as the silu op stores it, then the product as mul computes it: exactly mul(a, silu(b)).
  mulSilu: [
    (x, y, o) => { for (let i = 0; i < o.length; i++) { const v = y[i]!; o[i] = x[i]! * Math.fround(v * sigmoid64(v)); } },
    (x, y, o, oi, ai, as, bi, bs, len) => { for (let j = 0; j < len; j++) { const v = y[bi + j * bs]!; o[oi + j] = x[ai + j * as]! * Math.fround(v * sigmoid64(v)); } },
  ],
};

function cpuBinary(name: Name) {
  const [same, row] = LOOPS[name];
  return ({ inputs, outputs }: { inputs: readonly Tensor[]; outputs: readonly Tensor[] }) => {
    const [a, b] = inputs as [Tensor, Tensor];
    const x = cpuF32(a), y = cpuF32(b), o = cpuF32(outputs[0]!);
    if (sameShape(a.shape, b.shape)) { same(x, y, o); return; }
    forEachBroadcastRow(outputs[0]!.shape, a.shape, b.shape, (oi, ai, as, bi, bs, len) => row(x, y, o, oi, ai, as, bi, bs, len));
  };
}

/** `wgsl` is the same function as a WGSL expression of v0 and v1 (using the functions of `helpers`). */
function defineBinary(name: Name, wgsl: string, backward: OpDef['backward'], helpers?: string): OpDef {
  return defineOp({
    name, infer: inferBinary(name), backward,
    kernels: {
      cpu: cpuBinary(name),
      webgpu: ({ inputs, outputs }) => mapElements({ op: name, out: outputs[0]!, inputs: inputs.map((tensor) => ({ tensor })), body: `return ${wgsl};`, ...(helpers && { helpers }) }),
    },
  });
}

const addOp = defineBinary('add', 'v0 + v1', ([g], { inputs: [a, b] }) => [sumTo(g!, a!.shape), sumTo(g!, b!.shape)]);
const subOp = defineBinary('sub', 'v0 - v1', ([g], { inputs: [a, b] }) => [sumTo(g!, a!.shape), sumTo(neg(g!), b!.shape)]);
const mulOp = defineBinary('mul', 'v0 * v1', ([g], { inputs: [a, b] }) => [sumTo(mul(g!, b!), a!.shape), sumTo(mul(g!, a!), b!.shape)]);
const divOp = defineBinary('div', 'v0 / v1', ([g], { inputs: [a, b] }) => {
  const ga = div(g!, b!);
  return [sumTo(ga, a!.shape), sumTo(neg(mul(ga, div(a!, b!))), b!.shape)];
});

// silu's derivative is a function of its input alone (unaryGrad reads x, not y), so b stands in for silu(b).
const mulSiluOp = defineBinary('mulSilu', 'v0 * (v1 * sigmoid_f(v1))', ([g], { inputs: [a, b] }) => {
  const ga = mulSilu(g!, b!);
  const ag = mul(g!, a!);
  const bb = sameShape(b!.shape, g!.shape) ? b! : broadcastTo(b!, g!.shape);
  const gb = unaryGrad('silu', ag, bb, bb);
  ag.dispose();
  if (bb !== b) bb.dispose();
  return [sumTo(ga, a!.shape), sumTo(gb, b!.shape)];
}, wgslMath('sigmoid'));

function operands(a: Tensor | number, b: Tensor | number): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') throw opError('binary op', 'at least one operand must be a tensor');
  const ref = (typeof a === 'number' ? b : a) as Tensor;
  const lift = (v: Tensor | number) => (typeof v === 'number' ? tensor(new Float32Array([v]), [], { backend: ref.backend }) : v);
  return [lift(a), lift(b)];
}

function apply(def: OpDef, a: Tensor | number, b: Tensor | number): Tensor {
  const [x, y] = operands(a, b);
  const out = runOp(def, [x, y], {})[0]!;
  if (x !== a) x.dispose();
  if (y !== b) y.dispose();
  return out;
}

export const add = (a: Tensor | number, b: Tensor | number): Tensor => apply(addOp, a, b);
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => apply(subOp, a, b);
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => apply(mulOp, a, b);
export const div = (a: Tensor | number, b: Tensor | number): Tensor => apply(divOp, a, b);
export const neg = (a: Tensor): Tensor => apply(mulOp, a, -1);
/**
 * a·silu(b) in one kernel, exactly mul(a, silu(b)): Mamba's gate s ⊙ silu(z) where nothing reads silu(z) itself (no
 * hook at mixer.hook_g), one pass over the activation in place of two.
 */
export const mulSilu = (a: Tensor, b: Tensor): Tensor => apply(mulSiluOp, a, b);
