import { defineOp, runOp, type OpDef } from '../../op.js';
import { opError } from '../../errors.js';
import { aroundAxis } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { cpuF32 } from '../../backends/cpu/cpu-backend.js';
import { reducedShape, resolveAxis } from './axes.js';
import { rowsGpu } from './softmax.wgsl.js';
import { mapElements } from '../../backends/webgpu/elementwise.js';
import { wgslMath } from '../../backends/webgpu/wgsl-math.js';

/**
 * softmax, logSoftmax and logsumexp along one axis, each shifted by the axis maximum so that exp never
 * overflows, with sums in float64. The last axis (inner = 1, every attention row and every vocabulary row) has
 * its own contiguous loops; other axes walk the [outer, n, inner] layout with stride `inner`.
 * A NaN in a row becomes the row's max (it is never replaced) and so turns the whole row into NaN, as in PyTorch.
 */
interface AxisAttr { axis: number }

function checkFloat(op: string, inputs: readonly Tensor[]): void {
  for (const t of inputs) if (t.dtype !== 'float32') throw opError(op, 'inputs must be float32', inputs);
}

/** log Σ exp of the n values at x[b], x[b+s], ..., in float64. A row of -∞ gives -∞, as in PyTorch. */
function lse(x: Float32Array, b: number, n: number, s: number): number {
  let m = -Infinity;
  for (let j = 0, p = b; j < n; j++, p += s) { const v = x[p]!; if (v > m || v !== v) m = v; }
  if (m === -Infinity || m === Infinity) return m;
  let t = 0;
  for (let j = 0, p = b; j < n; j++, p += s) t += Math.exp(x[p]! - m);
  return m + Math.log(t);
}

function softmaxRows(x: Float32Array, o: Float32Array, [outer, n, inner]: number[], log: boolean): void {
  if (inner === 1) {
    for (let b = 0; b < outer * n; b += n) {
      let m = -Infinity;
      for (let j = b; j < b + n; j++) { const v = x[j]!; if (v > m || v !== v) m = v; }
      let t = 0;
      if (log) {
        for (let j = b; j < b + n; j++) t += Math.exp(x[j]! - m);
        const c = m + Math.log(t);
        for (let j = b; j < b + n; j++) o[j] = x[j]! - c;
      } else {
        for (let j = b; j < b + n; j++) { const e = Math.exp(x[j]! - m); o[j] = e; t += e; }
        const inv = 1 / t;
        for (let j = b; j < b + n; j++) o[j] = o[j]! * inv;
      }
    }
    return;
  }
  for (let r = 0; r < outer; r++) {
    for (let i = 0; i < inner; i++) {
      const b = r * n * inner + i, end = b + n * inner;
      let m = -Infinity;
      for (let p = b; p < end; p += inner) { const v = x[p]!; if (v > m || v !== v) m = v; }
      let t = 0;
      for (let p = b; p < end; p += inner) t += Math.exp(x[p]! - m);
      if (log) {
        const c = m + Math.log(t);
        for (let p = b; p < end; p += inner) o[p] = x[p]! - c;
      } else {
        const inv = 1 / t;
        for (let p = b; p < end; p += inner) o[p] = Math.exp(x[p]! - m) * inv;
      }
    }
  }
}

/** dx from g and y: softmax  y·(g − Σ g·y);  logSoftmax  g − e^y·Σ g. */
function softmaxGradRows(g: Float32Array, y: Float32Array, o: Float32Array, [outer, n, inner]: number[], log: boolean): void {
  for (let r = 0; r < outer; r++) {
    for (let i = 0; i < inner; i++) {
      const b = r * n * inner + i, end = b + n * inner;
      let t = 0;
      if (log) {
        for (let p = b; p < end; p += inner) t += g[p]!;
        for (let p = b; p < end; p += inner) o[p] = g[p]! - Math.exp(y[p]!) * t;
      } else {
        for (let p = b; p < end; p += inner) t += g[p]! * y[p]!;
        for (let p = b; p < end; p += inner) o[p] = y[p]! * (g[p]! - t);
      }
    }
  }
}

function defineSoftmax(name: 'softmax' | 'logSoftmax'): OpDef<AxisAttr> {
  const log = name === 'logSoftmax';
  const gradOp = defineOp<AxisAttr>({
    name: `${name}Grad`,
    internal: true,
    infer(inputs) {
      checkFloat(`${name}Grad`, inputs);
      return [{ shape: inputs[0]!.shape, dtype: 'float32' }];
    },
    kernels: {
      cpu({ inputs: [g, y], outputs: [o], attrs }) {
        softmaxGradRows(cpuF32(g!), cpuF32(y!), cpuF32(o!), aroundAxis(y!.shape, resolveAxis(name, y!, attrs.axis)), log);
      },
      webgpu({ inputs, outputs: [o], attrs }) {
        rowsGpu(`${name}Grad`, inputs, o!, aroundAxis(inputs[1]!.shape, resolveAxis(name, inputs[1]!, attrs.axis)));
      },
    },
  });
  return defineOp<AxisAttr>({
    name,
    infer(inputs, { axis }) {
      checkFloat(name, inputs);
      resolveAxis(name, inputs[0]!, axis);
      return [{ shape: inputs[0]!.shape, dtype: 'float32' }];
    },
    kernels: {
      cpu({ inputs: [x], outputs: [o], attrs }) {
        softmaxRows(cpuF32(x!), cpuF32(o!), aroundAxis(x!.shape, resolveAxis(name, x!, attrs.axis)), log);
      },
      webgpu({ inputs: [x], outputs: [o], attrs }) {
        rowsGpu(name, [x!], o!, aroundAxis(x!.shape, resolveAxis(name, x!, attrs.axis)));
      },
    },
    backward: ([g], { outputs: [y], attrs }) => [runOp(gradOp, [g!, y!], attrs)[0]!],
  });
}

const softmaxOp = defineSoftmax('softmax');
const logSoftmaxOp = defineSoftmax('logSoftmax');

interface LseAttrs { axis: number; keepdims: boolean }

/** dx = g·e^(x − y), with g and y laid out as [outer, inner]. */
const logsumexpGradOp = defineOp<LseAttrs>({
  name: 'logsumexpGrad',
  internal: true,
  infer(inputs) {
    checkFloat('logsumexpGrad', inputs);
    return [{ shape: inputs[1]!.shape, dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [g, x, y], outputs: [o], attrs }) {
      const gd = cpuF32(g!), xd = cpuF32(x!), yd = cpuF32(y!), od = cpuF32(o!);
      const [outer, n, inner] = aroundAxis(x!.shape, resolveAxis('logsumexp', x!, attrs.axis));
      for (let r = 0; r < outer; r++) {
        for (let j = 0; j < n; j++) {
          const b = (r * n + j) * inner;
          for (let i = 0; i < inner; i++) od[b + i] = gd[r * inner + i]! * Math.exp(xd[b + i]! - yd[r * inner + i]!);
        }
      }
    },
    webgpu({ inputs: [g, x, y], outputs: [o], attrs }) {
      const a = resolveAxis('logsumexp', x!, attrs.axis);
      const kept = x!.shape.map((d, i) => (i === a ? 1 : d));
      mapElements({
        op: 'logsumexpGrad', out: o!, inputs: [{ tensor: g!, shape: kept }, { tensor: x! }, { tensor: y!, shape: kept }],
        body: 'return v0 * exp_f(v1 - v2);', helpers: wgslMath('exp'),
      });
    },
  },
});

const logsumexpOp = defineOp<LseAttrs>({
  name: 'logsumexp',
  infer(inputs, { axis, keepdims }) {
    checkFloat('logsumexp', inputs);
    const x = inputs[0]!;
    return [{ shape: reducedShape(x.shape, [resolveAxis('logsumexp', x, axis)], keepdims), dtype: 'float32' }];
  },
  kernels: {
    cpu({ inputs: [x], outputs: [o], attrs }) {
      const xd = cpuF32(x!), od = cpuF32(o!);
      const [outer, n, inner] = aroundAxis(x!.shape, resolveAxis('logsumexp', x!, attrs.axis));
      for (let r = 0; r < outer; r++) {
        for (let i = 0; i < inner; i++) od[r * inner + i] = lse(xd, r * n * inner + i, n, inner);
      }
    },
    webgpu({ inputs: [x], outputs: [o], attrs }) {
      rowsGpu('logsumexp', [x!], o!, aroundAxis(x!.shape, resolveAxis('logsumexp', x!, attrs.axis)));
    },
  },
  backward: ([g], { inputs: [x], outputs: [y], attrs }) => [runOp(logsumexpGradOp, [g!, x!, y!], attrs)[0]!],
});

/** e^x / Σ e^x along `axis` (default the last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return runOp(softmaxOp, [x], { axis })[0]!;
}

/** x − log Σ e^x along `axis` (default the last), without forming the softmax. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return runOp(logSoftmaxOp, [x], { axis })[0]!;
}

/** log Σ e^x along `axis` (default the last), dropping that axis unless `keepdims`. */
export function logsumexp(x: Tensor, axis = -1, keepdims = false): Tensor {
  return runOp(logsumexpOp, [x], { axis, keepdims })[0]!;
}
