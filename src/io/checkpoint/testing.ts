/**
 * Test helpers: writers for hand-made pickles and zip archives, so that tests can build the malformed, malicious
 * or oversized checkpoints that no fixture should hold. Not part of the public API.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';

const made: string[] = [];

/** A fresh directory under os.tmpdir(), removed when the test process exits (some hold sparse multi-GB files). */
export function tempDir(tag: string): string {
  if (made.length === 0) process.on('exit', () => { for (const d of made) rmSync(d, { recursive: true, force: true }); });
  const dir = mkdtempSync(join(tmpdir(), `factlab-${tag}-`));
  made.push(dir);
  return dir;
}

/** Emits pickle opcodes (protocol 2, as torch.save writes them). */
export class PickleWriter {
  private bytes: number[] = [];

  private u32(v: number): void { this.bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  op(code: number): this { this.bytes.push(code); return this; }
  proto(): this { return this.op(0x80).op(2); }
  mark(): this { return this.op(0x28); }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.op(0x58).u32(b.length);
    this.bytes.push(...b);
    return this;
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b).op(n);
    if (n >= 0 && n < 65536) return this.op(0x4d).op(n & 0xff).op(n >>> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) { this.op(0x4a).u32(n); return this; }
    // LONG1 with 8 bytes, two's complement little-endian.
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    this.op(0x8a).op(8);
    this.bytes.push(...b);
    return this;
  }
  ints(ns: readonly number[]): this {
    this.mark();
    for (const n of ns) this.int(n);
    return this.op(0x74); // TUPLE
  }
  global(module: string, name: string): this {
    this.op(0x63);
    this.bytes.push(...Buffer.from(`${module}\n${name}\n`, 'latin1'));
    return this;
  }
  emptyDict(): this { return this.op(0x7d); }
  emptyTuple(): this { return this.op(0x29); }
  tuple(): this { return this.op(0x74); }
  reduce(): this { return this.op(0x52); }
  setitems(): this { return this.op(0x75); }
  persid(): this { return this.op(0x51); }
  false(): this { return this.op(0x89); }
  stop(): this { return this.op(0x2e); }
  build(): Uint8Array { return Uint8Array.from(this.bytes); }
}

export interface ViewSpec {
  name: string;
  storage: string;
  /** torch storage class name, e.g. FloatStorage. */
  type: string;
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** The pickle torch.save writes for a flat state dict of tensor views. */
export function stateDictPickle(views: readonly ViewSpec[]): Uint8Array {
  const p = new PickleWriter().proto().emptyDict().mark();
  for (const v of views) {
    p.str(v.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', v.type).str(v.storage).str('cpu').int(v.numel).tuple().persid();
    p.int(v.offset).ints(v.shape).ints(v.stride).false().global('collections', 'OrderedDict').emptyTuple().reduce();
    p.tuple().reduce();
  }
  return p.setitems().stop().build();
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipInput {
  name: string;
  /** The content; with `size` larger than it, the content is placed at the end of a sparse (zero) entry. */
  data: Uint8Array;
  size?: number;
}

/**
 * Writes a zip of stored entries like torch.save's. With `zip64`, sizes and offsets go in zip64 fields; sparse
 * entries (`size` > data) let a test make an archive over 4 GiB without writing 4 GiB.
 */
export function writeZip(path: string, inputs: readonly ZipInput[], opts: { zip64?: boolean; deflate?: boolean } = {}): void {
  const fd = openSync(path, 'w');
  let pos = 0;
  const write = (b: Uint8Array) => { writeSync(fd, b, 0, b.length, pos); pos += b.length; };
  const central: Buffer[] = [];
  for (const e of inputs) {
    const name = Buffer.from(e.name, 'utf8');
    const size = e.size ?? e.data.length;
    const crc = size === e.data.length ? crc32(e.data) : 0;
    // Deflated entries (which torch never writes) stand for archives that were re-zipped by hand.
    const packed = opts.deflate ? deflateRawSync(e.data) : e.data;
    const stored = opts.deflate ? packed.length : size;
    const offset = pos;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    local.writeUInt16LE(opts.deflate ? 8 : 0, 8);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(opts.zip64 ? 0xffffffff : stored, 18);
    local.writeUInt32LE(opts.zip64 ? 0xffffffff : size, 22);
    local.writeUInt16LE(name.length, 26);
    const localExtra = Buffer.alloc(opts.zip64 ? 20 : 0);
    if (opts.zip64) {
      localExtra.writeUInt16LE(1, 0);
      localExtra.writeUInt16LE(16, 2);
      localExtra.writeBigUInt64LE(BigInt(size), 4);
      localExtra.writeBigUInt64LE(BigInt(stored), 12);
    }
    local.writeUInt16LE(localExtra.length, 28);
    write(local);
    write(name);
    write(localExtra);
    pos += stored - packed.length;
    write(packed);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    cd.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
    cd.writeUInt16LE(opts.deflate ? 8 : 0, 10);
    cd.writeUInt16LE(0x21, 14);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : stored, 20);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : size, 24);
    cd.writeUInt16LE(name.length, 28);
    const extra = Buffer.alloc(opts.zip64 ? 28 : 0);
    if (opts.zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(size), 4);
      extra.writeBigUInt64LE(BigInt(stored), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    cd.writeUInt16LE(extra.length, 30);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    central.push(cd, name, extra);
  }
  const cdStart = pos;
  for (const b of central) write(b);
  const cdSize = pos - cdStart;
  if (opts.zip64) {
    const z = Buffer.alloc(56);
    const zPos = pos;
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeUInt16LE(45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(inputs.length), 24);
    z.writeBigUInt64LE(BigInt(inputs.length), 32);
    z.writeBigUInt64LE(BigInt(cdSize), 40);
    z.writeBigUInt64LE(BigInt(cdStart), 48);
    write(z);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(zPos), 8);
    loc.writeUInt32LE(1, 16);
    write(loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(opts.zip64 ? 0xffff : inputs.length, 8);
  end.writeUInt16LE(opts.zip64 ? 0xffff : inputs.length, 10);
  end.writeUInt32LE(opts.zip64 ? 0xffffffff : cdSize, 12);
  end.writeUInt32LE(opts.zip64 ? 0xffffffff : cdStart, 16);
  write(end);
  ftruncateSync(fd, pos);
  closeSync(fd);
}

/** A torch.save-style checkpoint: `<prefix>/data.pkl`, byteorder, and one entry per storage. */
export function writeTorchZip(path: string, pickle: Uint8Array, storages: Record<string, Uint8Array | { data: Uint8Array; size: number }>, opts: { zip64?: boolean; deflate?: boolean; byteorder?: string; prefix?: string } = {}): void {
  const prefix = opts.prefix ?? 'archive';
  const entries: ZipInput[] = [{ name: `${prefix}/data.pkl`, data: pickle }, { name: `${prefix}/byteorder`, data: Buffer.from(opts.byteorder ?? 'little') }];
  for (const [key, s] of Object.entries(storages)) {
    entries.push(s instanceof Uint8Array ? { name: `${prefix}/data/${key}`, data: s } : { name: `${prefix}/data/${key}`, data: s.data, size: s.size });
  }
  entries.push({ name: `${prefix}/version`, data: Buffer.from('3\n') });
  writeZip(path, entries, opts);
}
