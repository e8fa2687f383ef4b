import type * as Fs from 'node:fs';
import type * as NodeBuffer from 'node:buffer';
import { FactlabError } from '../../tensor/errors.js';
import { nodeBuiltin, requireNodeBuiltin } from '../../tensor/node-builtins.js';
import { BYTES_PER_ELEMENT, float16ToFloat32, type AnyTypedArray, type DType } from '../../tensor/dtype.js';
import { tensor } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';

/** Bytes per element of every stored dtype factlab reads, by its safetensors name (the names `info()` reports). */
export const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  F64: 8, I64: 8, U64: 8,
};

export function isStoredDType(s: string): boolean {
  return Object.prototype.hasOwnProperty.call(ELEMENT_BYTES, s);
}

/** The engine dtype a stored dtype becomes: compute types are float32 and int32, 16-bit floats may stay as they are. */
export function engineDType(stored: string, keep16: boolean): DType {
  if (stored === 'F16') return keep16 ? 'float16' : 'float32';
  if (stored === 'BF16') return keep16 ? 'bfloat16' : 'float32';
  return stored.startsWith('F') ? 'float32' : 'int32';
}

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const fs = () => requireNodeBuiltin<typeof Fs>('node:fs', 'reading and writing checkpoint files');

/** Reverses each `width`-byte element in place, for data whose byte order is not the host's. */
export function swapBytes(raw: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= raw.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = raw[a]!;
      raw[a] = raw[b]!;
      raw[b] = t;
    }
  }
}

// readSync and writeSync take at most 2 GiB - 1 bytes per call, so big tensors move in 1 GiB pieces.
let IO_CHUNK = 1 << 30;

/** Tests only: a small piece size exercises the multi-read path without gigabyte files. */
export function setIoChunkBytes(bytes = 1 << 30): void {
  IO_CHUNK = bytes;
}

/** Fills `buf` from `fd` at `position` (positional reads: files over 2 GiB and tensors over 2 GiB both work). */
export function readFully(fd: number, buf: Uint8Array, position: number, file: string, what: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs().readSync(fd, buf, done, Math.min(IO_CHUNK, buf.length - done), position + done);
    if (n === 0) throw new FactlabError(`${file}: ${what} is cut short: ${buf.length} bytes were expected at offset ${position}, but the file ends after ${done} (truncated file?)`);
    done += n;
  }
}

export function writeFully(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) done += fs().writeSync(fd, buf, done, Math.min(IO_CHUNK, buf.length - done), position + done);
}

/** The most bytes one typed array may hold: Node's own limit; a browser's is its own, and its RangeError names no tensor. */
const maxArrayBytes = () => nodeBuiltin<typeof NodeBuffer>('node:buffer')?.constants.MAX_LENGTH ?? Infinity;

/**
 * A zeroed byte buffer for `n` bytes of `what`. One JavaScript typed array holds at most 4 GiB (Node 20), which
 * no single weight of a released model reaches; past it the error names the tensor instead of a RangeError.
 */
export function allocBytes(n: number, what: string): Uint8Array {
  const most = maxArrayBytes();
  if (n > most) throw new FactlabError(`${what} needs ${n} bytes in one array, more than the ${most} that JavaScript allows`);
  return new Uint8Array(n);
}

export function closeQuietly(fd: number): void {
  try { fs().closeSync(fd); } catch { /* already closed or never fully opened: nothing left to release */ }
}

let f16Table: Float32Array | undefined;
function halfTable(): Float32Array {
  // 256 KiB once, then widening an F16 checkpoint is a table lookup per element.
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = float16ToFloat32(h);
  }
  return f16Table;
}

function fp8Table(exponentBits: number): Float32Array {
  const mantBits = 7 - exponentBits;
  const bias = (1 << (exponentBits - 1)) - 1;
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const e = (b >> mantBits) & ((1 << exponentBits) - 1);
    const m = b & ((1 << mantBits) - 1);
    let v: number;
    if (e === 0) v = m * 2 ** (1 - bias - mantBits);
    else if (exponentBits === 5 && e === 31) v = m ? NaN : Infinity;
    // E4M3 (the "fn" variant every framework stores) has no infinities; only S.1111.111 is NaN.
    else if (exponentBits === 4 && e === 15 && m === 7) v = NaN;
    else v = (1 + m / (1 << mantBits)) * 2 ** (e - bias);
    t[b] = sign * v;
  }
  return t;
}
let e5m2: Float32Array | undefined;
let e4m3: Float32Array | undefined;

/**
 * Turns a tensor's raw little-endian bytes into the engine's element type. `raw` must start at byte 0 of its own
 * buffer, so that F32, I32 and kept 16-bit data are reinterpreted in place instead of copied.
 */
export function decode(raw: Uint8Array, stored: string, keep16: boolean, where: string): { data: AnyTypedArray; dtype: DType } {
  const width = ELEMENT_BYTES[stored];
  if (width === undefined) throw new FactlabError(`${where}: unknown dtype ${stored}`);
  if (raw.byteOffset !== 0) raw = raw.slice();
  if (!HOST_LITTLE_ENDIAN) swapBytes(raw, width);
  const n = raw.length / width;
  const buf = raw.buffer;
  const dtype = engineDType(stored, keep16);
  if (n * BYTES_PER_ELEMENT[dtype] > maxArrayBytes()) allocBytes(n * BYTES_PER_ELEMENT[dtype], `${where} as ${dtype}`);
  switch (stored) {
    case 'F32': return { data: new Float32Array(buf, 0, n), dtype };
    case 'I32': return { data: new Int32Array(buf, 0, n), dtype };
    case 'F16': case 'BF16': {
      const u16 = new Uint16Array(buf, 0, n);
      if (keep16) return { data: u16, dtype };
      if (stored === 'BF16') {
        const out = new Uint32Array(n);
        for (let i = 0; i < n; i++) out[i] = u16[i]! << 16;
        return { data: new Float32Array(out.buffer), dtype };
      }
      const table = halfTable();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[u16[i]!]!;
      return { data: out, dtype };
    }
    case 'F64': return { data: Float32Array.from(new Float64Array(buf, 0, n)), dtype };
    case 'F8_E5M2': case 'F8_E4M3': {
      const table = stored === 'F8_E5M2' ? (e5m2 ??= fp8Table(5)) : (e4m3 ??= fp8Table(4));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[raw[i]!]!;
      return { data: out, dtype };
    }
    case 'I64': case 'U64': {
      // int32 is the engine's only integer type; token ids and masks fit, and anything else is an error, not a wrap.
      const halves = new Int32Array(buf, 0, 2 * n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = halves[2 * i]!, hi = halves[2 * i + 1]!;
        if (hi !== lo >> 31 || (stored === 'U64' && hi !== 0)) {
          const big = stored === 'U64' ? new BigUint64Array(buf, 8 * i, 1)[0]! : new BigInt64Array(buf, 8 * i, 1)[0]!;
          throw new FactlabError(`${where}: element ${i} is ${big}, which does not fit in int32 (factlab's integer type)`);
        }
        out[i] = lo;
      }
      return { data: out, dtype };
    }
    case 'U32': {
      const u = new Uint32Array(buf, 0, n);
      for (let i = 0; i < n; i++) {
        if (u[i]! > 0x7fffffff) throw new FactlabError(`${where}: element ${i} is ${u[i]}, which does not fit in int32 (factlab's integer type)`);
      }
      return { data: new Int32Array(buf, 0, n), dtype };
    }
    case 'I16': return { data: Int32Array.from(new Int16Array(buf, 0, n)), dtype };
    case 'U16': return { data: Int32Array.from(new Uint16Array(buf, 0, n)), dtype };
    case 'I8': return { data: Int32Array.from(new Int8Array(buf, 0, n)), dtype };
    case 'U8': return { data: Int32Array.from(raw), dtype };
    case 'BOOL': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = raw[i] ? 1 : 0;
      return { data: out, dtype };
    }
  }
  throw new FactlabError(`${where}: unknown dtype ${stored}`);
}

export function toTensor(raw: Uint8Array, stored: string, shape: readonly number[], keep16: boolean, where: string): Tensor {
  const { data, dtype } = decode(raw, stored, keep16, where);
  return tensor(data, shape, { dtype });
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A name list for messages: the first few and how many more. */
export function listSome(names: readonly string[], max = 5): string {
  const quoted = names.slice(0, max).map((n) => JSON.stringify(n));
  return names.length > max ? `${quoted.join(', ')} and ${names.length - max} more` : quoted.join(', ');
}
