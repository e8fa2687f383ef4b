/**
 * PyTorch checkpoints (pytorch_model.bin) in the zip format torch.save has written since 1.6:
 * `<prefix>/data.pkl` is a pickle of the state dict in which every tensor is a view (storage offset, size,
 * stride) of a storage, and each storage is the stored entry `<prefix>/data/<key>`. Storages are shared
 * (tied weights are two views of one storage) and views may be non-contiguous.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { FactlabError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { fmt } from '../../tensor/shape.js';
import { ELEMENT_BYTES, product, swapBytes, toTensor } from './dtypes.js';
import { PickleCallable, PickleDict, describe, unpickle } from './pickle.js';
import { ZipReader, type ZipEntry } from './zip.js';
import type { Checkpoint, LoadOptions, TensorInfo } from './types.js';

class StorageType {
  constructor(readonly qualname: string, readonly dtype: string) {}
}

class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: string,
    /** Elements, as the pickle declares. */
    readonly numel: number,
    readonly entry: ZipEntry,
  ) {}
}

class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

const STORAGE_DTYPES: Record<string, string> = {
  DoubleStorage: 'F64', FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL', UntypedStorage: 'U8',
};
const TORCH_DTYPES: Record<string, string> = {
  float64: 'F64', double: 'F64', float32: 'F32', float: 'F32', float16: 'F16', half: 'F16', bfloat16: 'BF16',
  int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
  float8_e5m2: 'F8_E5M2', float8_e4m3fn: 'F8_E4M3',
};

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isIntTuple = (v: unknown): v is number[] => Array.isArray(v) && v.every(isInt);

function rebuildTensor(file: string, args: readonly unknown[], fn: string): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw new FactlabError(`${file}: ${fn} is called on ${describe(storage)} instead of a storage`);
  if (!isInt(offset) || !isIntTuple(size) || !isIntTuple(stride) || size.length !== stride.length) {
    throw new FactlabError(`${file}: ${fn} is called with offset ${String(offset)}, size ${JSON.stringify(size)}, stride ${JSON.stringify(stride)}, which do not describe a tensor view`);
  }
  return new TensorRef(storage, offset, [...size], [...stride]);
}

/**
 * The globals a state dict needs, as torch.load(weights_only=True) allows them; everything a REDUCE can call
 * builds a value and nothing else.
 */
function allowedGlobals(file: string): Map<string, unknown> {
  const g = new Map<string, unknown>();
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) g.set(`torch.${name}`, new StorageType(`torch.${name}`, dtype));
  for (const [name, dtype] of Object.entries(TORCH_DTYPES)) g.set(`torch.${name}`, new StorageType(`torch.${name}`, dtype));
  const fn = (qualname: string, call: (args: readonly unknown[]) => unknown) => g.set(qualname, new PickleCallable(qualname, call));
  fn('collections.OrderedDict', (args) => {
    const d = new PickleDict();
    const items = args[0];
    if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv) && kv.length === 2) d.map.set(kv[0], kv[1]);
    return d;
  });
  fn('torch._utils._rebuild_tensor_v2', (a) => rebuildTensor(file, a, 'torch._utils._rebuild_tensor_v2'));
  fn('torch._utils._rebuild_tensor', (a) => rebuildTensor(file, a, 'torch._utils._rebuild_tensor'));
  // A Parameter is its tensor plus requires_grad and hooks, which inference and editing do not use.
  fn('torch._utils._rebuild_parameter', (a) => a[0]);
  fn('torch._utils._rebuild_parameter_with_state', (a) => a[0]);
  fn('torch.nn.parameter.Parameter', (a) => a[0]);
  fn('torch.Size', (a) => a[0]);
  fn('torch.device', (a) => String(a[0]));
  // Protocol 2 has no bytes opcode; Python 3 pickles bytes as _codecs.encode(str, 'latin1').
  fn('_codecs.encode', (a) => {
    if (typeof a[0] !== 'string') throw new FactlabError(`${file}: _codecs.encode is called on ${describe(a[0])}`);
    return Uint8Array.from(a[0], (c) => c.charCodeAt(0) & 0xff);
  });
  return g;
}

function contiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d]! !== 1 && stride[d] !== expected) return false;
    expected *= shape[d]!;
  }
  return true;
}

/** Copies a strided view out of `span` (which starts at the view's first element) into row-major order. */
function gather(span: Uint8Array, width: number, shape: readonly number[], stride: readonly number[]): Uint8Array {
  const n = product(shape);
  const out = new Uint8Array(n * width);
  // Whole elements are moved as 32-bit or 16-bit units: bit-exact (a Float64Array copy could rewrite NaN payloads).
  const unit = width >= 4 ? 4 : width;
  const k = width / unit;
  const view = (b: Uint8Array) => (unit === 4 ? new Uint32Array(b.buffer, 0, b.length / 4) : unit === 2 ? new Uint16Array(b.buffer, 0, b.length / 2) : b);
  const src = view(span), dst = view(out);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let at = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) dst[i * k + j] = src[at * k + j]!;
    for (let d = rank - 1; d >= 0; d--) {
      at += stride[d]!;
      if (++idx[d]! < shape[d]!) break;
      at -= stride[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** Opens a torch.save zip checkpoint: parses the directory and the pickle, reads no tensor data. */
export class PytorchBinFile implements Checkpoint {
  readonly format = 'pytorch' as const;

  private constructor(
    readonly path: string,
    private readonly zip: ZipReader,
    private readonly tensors: Map<string, TensorRef>,
    private readonly bigEndian: boolean,
  ) {}

  static open(path: string): PytorchBinFile {
    let zip: ZipReader;
    try {
      zip = ZipReader.open(path);
    } catch (e) {
      if (startsWithPickle(path)) throw new FactlabError(`${path}: a PyTorch checkpoint in the legacy format of torch < 1.6, which factlab does not read; re-save it with a recent torch.save or convert it to safetensors`);
      throw e;
    }
    try {
      const pkl = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl')).sort((a, b) => a.length - b.length)[0];
      if (pkl === undefined) throw new FactlabError(`${path}: a zip archive, but not a PyTorch checkpoint (it has no data.pkl)`);
      const prefix = pkl.slice(0, -'data.pkl'.length);
      const order = zip.entries.get(`${prefix}byteorder`);
      const byteorder = order ? new TextDecoder().decode(zip.readAll(order)).trim() : 'little';
      if (byteorder !== 'little' && byteorder !== 'big') throw new FactlabError(`${path}: unknown byteorder ${JSON.stringify(byteorder)} in ${prefix}byteorder`);

      const storages = new Map<string, StorageRef>();
      const persistentLoad = (pid: unknown): StorageRef => {
        if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new FactlabError(`${path}: the pickle refers to an external object ${describe(pid)} that is not a storage`);
        const [, type, key, , numel] = pid as unknown[];
        if (!(type instanceof StorageType)) throw new FactlabError(`${path}: a storage has type ${describe(type)}, which is not a storage type`);
        if (typeof key !== 'string' || !isInt(numel)) throw new FactlabError(`${path}: a storage reference has key ${describe(key)} and size ${describe(numel)}`);
        const known = storages.get(key);
        if (known) return known;
        const entry = zip.entries.get(`${prefix}data/${key}`);
        if (!entry) throw new FactlabError(`${path}: storage ${key} is missing from the archive (no entry ${prefix}data/${key}); the file is incomplete`);
        const need = numel * ELEMENT_BYTES[type.dtype]!;
        if (entry.size < need) throw new FactlabError(`${path}: storage ${key} holds ${entry.size} bytes, but the pickle declares ${numel} ${type.dtype} elements (${need} bytes); the file is corrupt`);
        const s = new StorageRef(key, type.dtype, numel, entry);
        storages.set(key, s);
        return s;
      };
      const build = (obj: unknown, state: unknown): void => {
        // A state dict's OrderedDict carries `_metadata` (module versions) as instance state; tensors may carry
        // requires_grad or hooks. Neither changes a tensor's values.
        if (obj instanceof PickleDict || obj instanceof TensorRef) return;
        throw new FactlabError(`${path}: the pickle sets the state of ${describe(obj)} to ${describe(state)}, which a state dict never needs; refusing to load it`);
      };
      const root = unpickle(zip.readAll(zip.entries.get(pkl)!), { file: path, globals: allowedGlobals(path), persistentLoad, build });
      if (!(root instanceof PickleDict)) throw new FactlabError(`${path}: ${pkl} holds ${describe(root)}, not a state dict`);

      const tensors = new Map<string, TensorRef>();
      const collect = (d: PickleDict, prefix: string) => {
        for (const [k, v] of d.map) {
          const name = `${prefix}${String(k)}`;
          // Checkpoints that wrap the state dict ({"model": {...}}) get dotted names; non-tensor values are skipped.
          if (v instanceof PickleDict) collect(v, `${name}.`);
          else if (v instanceof TensorRef) {
            if (tensors.has(name)) throw new FactlabError(`${path}: tensor "${name}" appears twice in the state dict`);
            const last = v.shape.reduce((acc, n, i) => acc + (n - 1) * v.stride[i]!, v.offset);
            if (product(v.shape) > 0 && last >= v.storage.numel) {
              throw new FactlabError(`${path}: tensor "${name}" (${fmt(v.shape)}, offset ${v.offset}, stride ${fmt(v.stride)}) reaches element ${last} of storage ${v.storage.key}, which has ${v.storage.numel}; the file is corrupt`);
            }
            tensors.set(name, v);
          }
        }
      };
      collect(root, '');
      return new PytorchBinFile(path, zip, tensors, byteorder === 'big');
    } catch (e) {
      zip.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.ref(name);
    return { dtype: t.storage.dtype, shape: [...t.shape] };
  }

  /** The tensor's elements in row-major order, as little-endian bytes of its stored dtype. */
  readRaw(name: string): Uint8Array {
    const t = this.ref(name);
    const width = ELEMENT_BYTES[t.storage.dtype]!;
    const n = product(t.shape);
    let raw: Uint8Array;
    if (n === 0) raw = new Uint8Array(0);
    else if (contiguous(t.shape, t.stride)) raw = this.zip.readRange(t.storage.entry, t.offset * width, n * width);
    else {
      const last = t.shape.reduce((acc, d, i) => acc + (d - 1) * t.stride[i]!, 0);
      raw = gather(this.zip.readRange(t.storage.entry, t.offset * width, (last + 1) * width), width, t.shape, t.stride);
    }
    if (this.bigEndian) swapBytes(raw, width);
    return raw;
  }

  async load(name: string, opts: LoadOptions = {}): Promise<Tensor> {
    const t = this.ref(name);
    return toTensor(this.readRaw(name), t.storage.dtype, t.shape, opts.keep16 ?? false, `${this.path}: tensor "${name}"`);
  }

  close(): void {
    this.zip.close();
  }

  private ref(name: string): TensorRef {
    const t = this.tensors.get(name);
    if (!t) throw new FactlabError(`${this.path}: no tensor named "${name}" in this checkpoint (it has ${this.tensors.size} tensors)`);
    return t;
  }
}

function startsWithPickle(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const b = new Uint8Array(2);
      return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x80 && b[1]! <= 5;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}
