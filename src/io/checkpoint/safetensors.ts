import type * as Fs from 'node:fs';
import type * as Path from 'node:path';
import type * as Crypto from 'node:crypto';
import { FactlabError } from '../../tensor/errors.js';
import { requireNodeBuiltin } from '../../tensor/node-builtins.js';
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { fmt } from '../../tensor/shape.js';
import { ELEMENT_BYTES, allocBytes, HOST_LITTLE_ENDIAN, closeQuietly, isStoredDType, product, readFully, swapBytes, toTensor, writeFully } from './dtypes.js';
import { duplicateKey } from './json.js';
import type { Checkpoint, LoadOptions, TensorInfo } from './types.js';

// The Rust implementation refuses larger headers; a file it would refuse is one transformers cannot load either.
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

interface Entry {
  dtype: string;
  shape: number[];
  /** Offsets within the data section (after the header), as stored. */
  begin: number;
  end: number;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Checks a parsed header the way safetensors' Rust `validate` does: known dtypes, byte ranges that match
 * dtype × shape, and ranges that tile the data section exactly, with no overlap, gap or tail.
 */
function parseHeader(file: string, json: unknown, text: string, dataBytes: number): { entries: Map<string, Entry>; metadata: Record<string, string> } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FactlabError(`${file}: the safetensors header is not a JSON object`);
  const dup = duplicateKey(text);
  if (dup) throw new FactlabError(`${file}: tensor "${dup.key}" appears twice in the safetensors header`);
  const metadata: Record<string, string> = {};
  const entries = new Map<string, Entry>();
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FactlabError(`${file}: ${METADATA_KEY} in the safetensors header must be an object of strings`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new FactlabError(`${file}: ${METADATA_KEY} entry "${k}" is ${JSON.stringify(v)}, not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const where = `${file}: tensor "${name}"`;
    if (typeof value !== 'object' || value === null) throw new FactlabError(`${where}: its header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new FactlabError(`${where}: its header entry has no dtype`);
    if (!isStoredDType(dtype)) throw new FactlabError(`${where} has dtype ${JSON.stringify(dtype)}, which factlab cannot read (known: ${Object.keys(ELEMENT_BYTES).join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isCount)) throw new FactlabError(`${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
      throw new FactlabError(`${where}: data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] of byte offsets with begin <= end`);
    }
    const [begin, end] = offsets as [number, number];
    const need = product(shape as number[]) * ELEMENT_BYTES[dtype]!;
    if (end - begin !== need) throw new FactlabError(`${where}: data_offsets [${begin},${end}] hold ${end - begin} bytes, but ${dtype}${fmt(shape as number[])} needs ${need}`);
    if (end > dataBytes) throw new FactlabError(`${where}: data_offsets [${begin},${end}] lie outside the data section, which has ${dataBytes} bytes (truncated file?)`);
    entries.set(name, { dtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let at = 0;
  let prev = '';
  for (const [name, e] of sorted) {
    if (e.begin < at) throw new FactlabError(`${file}: tensors "${prev}" and "${name}" overlap (data_offsets [${entries.get(prev)!.begin},${at}] and [${e.begin},${e.end}])`);
    if (e.begin > at) throw new FactlabError(`${file}: ${e.begin - at} unused bytes lie before tensor "${name}" (data_offsets [${e.begin},${e.end}])${prev ? `, after tensor "${prev}"` : ''}; safetensors requires tensors to be packed`);
    at = e.end;
    prev = name;
  }
  if (at !== dataBytes) throw new FactlabError(`${file}: the data section has ${dataBytes} bytes, but the tensors account for only ${at}; ${dataBytes - at} trailing bytes`);
  return { entries, metadata };
}

/**
 * Where a checkpoint's bytes come from: a file, read at positions (Node), or bytes already in memory (a file a
 * browser's page was given).
 */
interface ByteSource {
  readonly size: number;
  /** Fills `into` from byte `position` on; `what` names the bytes in errors. */
  read(into: Uint8Array, position: number, what: string): void;
  close(): void;
}

function fileSource(path: string): ByteSource {
  const fs = requireNodeBuiltin<typeof Fs>('node:fs', 'reading a checkpoint file');
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new FactlabError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let size: number;
  try {
    size = fs.fstatSync(fd).size;
  } catch (e) {
    closeQuietly(fd);
    throw new FactlabError(`${path}: cannot read its size (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return {
    size,
    read(into, position, what) {
      if (fd === undefined) throw new FactlabError(`${path}: cannot read ${what}: the checkpoint was closed`);
      readFully(fd, into, position, path, what);
    },
    close() {
      if (fd !== undefined) closeQuietly(fd);
      fd = undefined;
    },
  };
}

function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  let open = true;
  return {
    size: bytes.length,
    read(into, position, what) {
      if (!open) throw new FactlabError(`${name}: cannot read ${what}: the checkpoint was closed`);
      if (position + into.length > bytes.length) throw new FactlabError(`${name}: ${what} is cut short: ${into.length} bytes were expected at offset ${position}, but the file has ${bytes.length}`);
      into.set(bytes.subarray(position, position + into.length));
    },
    close() { open = false; },
  };
}

/** One .safetensors file, opened for reading tensors one at a time at their offsets. */
export class SafetensorsFile implements Checkpoint {
  readonly format = 'safetensors' as const;

  private constructor(
    readonly path: string,
    private readonly source: ByteSource,
    private readonly entries: Map<string, Entry>,
    /** The header's __metadata__ (transformers writes {"format": "pt"}). */
    readonly metadata: Readonly<Record<string, string>>,
    private readonly dataStart: number,
  ) {}

  /** Opens and validates the header; the tensors themselves are not read. */
  static open(path: string): SafetensorsFile {
    return SafetensorsFile.from(path, fileSource(path));
  }

  /** The same from a file's bytes in memory (a browser); `name` names it in errors. */
  static fromBytes(name: string, bytes: Uint8Array): SafetensorsFile {
    return SafetensorsFile.from(name, bytesSource(name, bytes));
  }

  private static from(path: string, source: ByteSource): SafetensorsFile {
    try {
      const size = source.size;
      if (size < 8) throw new FactlabError(`${path}: truncated: ${size} bytes is less than the 8-byte header length that starts a safetensors file`);
      const lenBuf = new Uint8Array(8);
      source.read(lenBuf, 0, 'the header length');
      const n = new DataView(lenBuf.buffer).getBigUint64(0, true);
      if (n > BigInt(size - 8)) throw new FactlabError(`${path}: the header length says ${n} bytes, but only ${size - 8} follow it; the file is truncated or not safetensors`);
      if (n > BigInt(MAX_HEADER_BYTES)) throw new FactlabError(`${path}: the header length says ${n} bytes, more than the ${MAX_HEADER_BYTES} that safetensors allows; not a safetensors file?`);
      const headerBytes = new Uint8Array(Number(n));
      source.read(headerBytes, 8, 'the header');
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
      } catch {
        throw new FactlabError(`${path}: the safetensors header is not valid UTF-8; the file is corrupt or not safetensors`);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new FactlabError(`${path}: the safetensors header is not valid JSON (${(e as Error).message}); the file is corrupt or not safetensors`);
      }
      const dataStart = 8 + Number(n);
      const { entries, metadata } = parseHeader(path, json, text, size - dataStart);
      return new SafetensorsFile(path, source, entries, metadata, dataStart);
    } catch (e) {
      source.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): TensorInfo {
    const e = this.entry(name);
    return { dtype: e.dtype, shape: [...e.shape] };
  }

  /** The tensor's bytes exactly as stored (little-endian). */
  readRaw(name: string): Uint8Array {
    const e = this.entry(name);
    const raw = allocBytes(e.end - e.begin, `${this.path}: tensor "${name}"`);
    this.source.read(raw, this.dataStart + e.begin, `tensor "${name}"`);
    return raw;
  }

  async load(name: string, opts: LoadOptions = {}): Promise<Tensor> {
    const e = this.entry(name);
    return toTensor(this.readRaw(name), e.dtype, e.shape, opts.keep16 ?? false, `${this.path}: tensor "${name}"`);
  }

  close(): void {
    this.source.close();
  }

  private entry(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new FactlabError(`${this.path}: no tensor named "${name}" in this checkpoint (it has ${this.entries.size} tensors)`);
    return e;
  }
}

const STORED: Record<DType, string> = { float32: 'F32', int32: 'I32', float16: 'F16', bfloat16: 'BF16' };
// Rust orders tensors by dtype, largest enum value first (which keeps every tensor aligned to its element size),
// then by name; F32 > I32 > BF16 > F16 in its enum. Following it makes our files byte-identical to Python's.
const DTYPE_RANK: Record<DType, number> = { float32: 3, int32: 2, bfloat16: 1, float16: 0 };

function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Writes tensors as a .safetensors file that Python's safetensors and transformers load, in the same layout
 * they write (tensor order, compact JSON header padded with spaces to a multiple of 8 bytes). The file is
 * written under a temporary name in the same directory and renamed at the end, so `path` never holds a
 * half-written file, even if the process dies.
 */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  const items = Object.entries(tensors);
  for (const [name, t] of items) {
    if (name === METADATA_KEY) throw new FactlabError(`${path}: "${METADATA_KEY}" is reserved by safetensors and cannot name a tensor`);
    t.assertAlive(`saveSafetensors(${path}) tensor "${name}"`);
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new FactlabError(`${path}: metadata "${k}" must be a string, got ${typeof v}`);
    }
  }
  items.sort((a, b) => DTYPE_RANK[b[1].dtype] - DTYPE_RANK[a[1].dtype] || compareNames(a[0], b[0]));
  const parts: string[] = [];
  if (metadata) parts.push(`${JSON.stringify(METADATA_KEY)}:{${Object.entries(metadata).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);
  let at = 0;
  for (const [name, t] of items) {
    const bytes = t.size * ELEMENT_BYTES[STORED[t.dtype]]!;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${STORED[t.dtype]}","shape":[${t.shape.join(',')}],"data_offsets":[${at},${at + bytes}]}`);
    at += bytes;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Buffer.alloc(json.length + ((8 - (json.length % 8)) % 8), 0x20);
  json.copy(padded);
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(padded.length));

  const what = 'writing a safetensors file';
  const { closeSync, fsyncSync, openSync, renameSync, unlinkSync } = requireNodeBuiltin<typeof Fs>('node:fs', what);
  const { basename, dirname, join } = requireNodeBuiltin<typeof Path>('node:path', what);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${requireNodeBuiltin<typeof Crypto>('node:crypto', what).randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx');
  } catch (e) {
    throw new FactlabError(`${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    writeFully(fd, lenBuf, 0);
    writeFully(fd, padded, 8);
    let pos = 8 + padded.length;
    for (const [, t] of items) {
      const data = await t.data();
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (!HOST_LITTLE_ENDIAN) {
        const copy = bytes.slice();
        swapBytes(copy, data.BYTES_PER_ELEMENT);
        writeFully(fd, copy, pos);
      } else {
        writeFully(fd, bytes, pos);
      }
      pos += bytes.length;
    }
    // Flushed before the rename, so that after a crash the name holds either the old file or the whole new one.
    fsyncSync(fd);
    const open = fd;
    fd = -1;
    closeSync(open);
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) closeQuietly(fd);
    try { unlinkSync(tmp); } catch { /* it may never have been created */ }
    if (e instanceof FactlabError) throw e;
    throw new FactlabError(`${path}: writing failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
