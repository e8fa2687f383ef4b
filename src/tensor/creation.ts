import { type AnyTypedArray, type DType } from './dtype.js';
import type { Backend } from './backends/backend.js';
import { getBackend } from './backends/current.js';
import { Tensor } from './tensor.js';
import { checkShape, fmt, sizeOf, type Shape } from './shape.js';
import { FactlabError } from './errors.js';
import { Rng } from './random.js';

export interface CreateOptions {
  dtype?: DType;
  /** Defaults to the current backend (see `withBackend`). */
  backend?: Backend;
}

type Nested = number | Nested[];

function flatten(data: Nested, shape: number[], out: number[], depth = 0): void {
  if (typeof data === 'number') {
    if (depth !== shape.length && shape.length) throw new FactlabError('tensor: ragged nested array');
    out.push(data);
    return;
  }
  if (shape.length === depth) shape.push(data.length);
  else if (shape[depth] !== data.length) throw new FactlabError(`tensor: ragged nested array (dimension ${depth} has lengths ${shape[depth]} and ${data.length})`);
  for (const d of data) flatten(d, shape, out, depth + 1);
}

function typedFor(dtype: DType, values: ArrayLike<number>): AnyTypedArray {
  if (dtype === 'float32') return Float32Array.from(values);
  if (dtype === 'int32') return Int32Array.from(values);
  return Uint16Array.from(values);
}

/**
 * A tensor from numbers: a (nested) array or a typed array, with an optional shape (inferred from nesting,
 * or 1-D). Typed arrays set the dtype (Float32Array → float32, Int32Array → int32); float16/bfloat16 data
 * are given as their raw 16-bit patterns in a Uint16Array with `dtype`.
 */
export function tensor(data: Nested | AnyTypedArray, shape?: Shape, opts: CreateOptions = {}): Tensor {
  let values: ArrayLike<number>;
  let inferred: number[];
  let dtype = opts.dtype;
  if (ArrayBuffer.isView(data)) {
    values = data;
    inferred = [data.length];
    dtype ??= data instanceof Int32Array ? 'int32' : data instanceof Uint16Array ? undefined : 'float32';
    if (!dtype) throw new FactlabError('tensor: a Uint16Array needs dtype float16 or bfloat16');
  } else {
    const flat: number[] = [];
    inferred = [];
    flatten(data, inferred, flat);
    values = flat;
  }
  const finalShape = shape ?? inferred;
  checkShape('tensor', finalShape);
  if (sizeOf(finalShape) !== values.length) throw new FactlabError(`tensor: ${values.length} values do not fill shape ${fmt(finalShape)}`);
  const dt = dtype ?? 'float32';
  const typed = ArrayBuffer.isView(values) && (values as AnyTypedArray).constructor === typedFor(dt, []).constructor ? (values as AnyTypedArray) : typedFor(dt, values);
  const backend = opts.backend ?? getBackend();
  return new Tensor([...finalShape], dt, backend.upload(dt, typed));
}

export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  checkShape('full', shape);
  const dt = opts.dtype ?? 'float32';
  const a = typedFor(dt, []).constructor as { new (n: number): AnyTypedArray };
  const data = new a(sizeOf(shape));
  if (value !== 0) data.fill(value);
  return tensor(data, shape, { ...opts, dtype: dt });
}

export function zeros(shape: Shape, opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: Shape, opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/** 0, 1, ..., n-1 (int32 unless another dtype is asked for). */
export function arange(n: number, opts: CreateOptions = {}): Tensor {
  const dt = opts.dtype ?? 'int32';
  return tensor(typedFor(dt, Array.from({ length: n }, (_, i) => i)), [n], { ...opts, dtype: dt });
}

/** Standard-normal values (times `std`), reproducible from `seed`. */
export function randn(shape: Shape, seed: number, std = 1, opts: CreateOptions = {}): Tensor {
  checkShape('randn', shape);
  const rng = new Rng(seed);
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return tensor(data, shape, opts);
}

/** Uniform values in [lo, hi), reproducible from `seed`. */
export function randUniform(shape: Shape, seed: number, lo = 0, hi = 1, opts: CreateOptions = {}): Tensor {
  checkShape('randUniform', shape);
  const rng = new Rng(seed);
  const data = new Float32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * rng.uniform();
  return tensor(data, shape, opts);
}
