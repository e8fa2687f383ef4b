/**
 * Random access to the entries of a zip archive, as PyTorch writes them (torch.save since 1.6).
 *
 * Why not a zip library: torch stores every entry uncompressed (and 64-byte aligned) precisely so that a reader
 * can read a storage in place, and factlab wants exactly that — one positional read of a tensor's bytes straight
 * into the typed array that becomes the tensor. Stream-oriented libraries (yauzl and the like) hand out whole
 * entries through streams, which would mean copies and an entry-sized buffer for a tensor that is a small view of
 * a large storage. What a reader needs here is small: the end-of-central-directory record (and its zip64 form
 * for archives over 4 GiB), the central directory, and each entry's local header to find where its data starts.
 * Deflated entries, which torch never writes, are still read (whole, through zlib) for archives re-zipped by hand.
 */
import { fstatSync, openSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { FactlabError } from '../../tensor/errors.js';
import { allocBytes, closeQuietly, readFully } from './dtypes.js';

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  flags: number;
  /** Where the entry's bytes begin, found from its local header on first use. */
  dataOffset?: number;
}

function u64(view: DataView, at: number, file: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FactlabError(`${file}: a zip64 field holds ${v}, beyond any real file size; the archive is corrupt`);
  return Number(v);
}

export class ZipReader {
  private fd: number | undefined;
  readonly entries = new Map<string, ZipEntry>();
  readonly size: number;

  private constructor(readonly path: string, fd: number) {
    this.fd = fd;
    this.size = fstatSync(fd).size;
  }

  static open(path: string): ZipReader {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new FactlabError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      const z = new ZipReader(path, fd);
      z.readDirectory();
      return z;
    } catch (e) {
      closeQuietly(fd);
      throw e;
    }
  }

  private read(position: number, length: number, what: string): DataView {
    const buf = new Uint8Array(length);
    readFully(this.handle(), buf, position, this.path, what);
    return new DataView(buf.buffer);
  }

  private handle(): number {
    if (this.fd === undefined) throw new FactlabError(`${this.path}: the checkpoint was closed`);
    return this.fd;
  }

  private readDirectory(): void {
    const file = this.path;
    const notZip = `${file}: not a complete zip archive (no end-of-central-directory record); the file is truncated, or not a checkpoint written by torch.save`;
    if (this.size < 22) throw new FactlabError(notZip);
    // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end of the file.
    const tailLen = Math.min(this.size, 22 + 65535);
    const tailStart = this.size - tailLen;
    const tail = this.read(tailStart, tailLen, 'the zip directory');
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.getUint32(i, true) === EOCD_SIG && i + 22 + tail.getUint16(i + 20, true) <= tailLen) { eocd = i; break; }
    }
    if (eocd < 0) throw new FactlabError(notZip);
    let count = tail.getUint16(eocd + 10, true);
    let cdSize = tail.getUint32(eocd + 12, true);
    let cdOffset = tail.getUint32(eocd + 16, true);
    const eocdPos = tailStart + eocd;
    let cdEnd = eocdPos;
    if (eocd >= 20 && tail.getUint32(eocd - 20, true) === ZIP64_LOCATOR_SIG) {
      const z64Pos = u64(tail, eocd - 20 + 8, file);
      if (z64Pos + 56 > eocdPos) throw new FactlabError(`${file}: the zip64 end-of-central-directory record points outside the archive; the file is corrupt`);
      const z = this.read(z64Pos, 56, 'the zip64 directory record');
      if (z.getUint32(0, true) !== ZIP64_EOCD_SIG) throw new FactlabError(`${file}: the zip64 end-of-central-directory record is missing; the file is corrupt`);
      count = u64(z, 32, file);
      cdSize = u64(z, 40, file);
      cdOffset = u64(z, 48, file);
      cdEnd = z64Pos;
    }
    if (cdOffset + cdSize > cdEnd) throw new FactlabError(`${file}: the zip central directory (${cdSize} bytes at ${cdOffset}) runs past its end record; the file is truncated or corrupt`);
    const cd = this.read(cdOffset, cdSize, 'the zip central directory');
    const bytes = new Uint8Array(cd.buffer);
    const names = new TextDecoder();
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > cdSize || cd.getUint32(p, true) !== CENTRAL_SIG) throw new FactlabError(`${file}: zip central directory entry ${k} is damaged; the file is corrupt`);
      const flags = cd.getUint16(p + 8, true);
      const method = cd.getUint16(p + 10, true);
      let compressedSize = cd.getUint32(p + 20, true);
      let size = cd.getUint32(p + 24, true);
      const nameLen = cd.getUint16(p + 28, true);
      const extraLen = cd.getUint16(p + 30, true);
      const commentLen = cd.getUint16(p + 32, true);
      let localHeaderOffset = cd.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen > cdSize) throw new FactlabError(`${file}: zip central directory entry ${k} is damaged; the file is corrupt`);
      const name = names.decode(bytes.subarray(p + 46, p + 46 + nameLen));
      // Sizes and offsets that do not fit 32 bits are 0xFFFFFFFF here and follow, in this order, in the zip64 extra field.
      for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
        const id = cd.getUint16(e, true);
        const len = cd.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          const take = () => {
            if (q + 8 > e + 4 + len) throw new FactlabError(`${file}: the zip64 field of entry ${name} is too short; the file is corrupt`);
            const v = u64(cd, q, file);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
        }
        e += 4 + len;
      }
      if (localHeaderOffset + 30 > cdOffset) throw new FactlabError(`${file}: zip entry ${name} starts beyond the archive's data; the file is corrupt`);
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset, flags });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  private dataOffset(entry: ZipEntry): number {
    if (entry.dataOffset !== undefined) return entry.dataOffset;
    const h = this.read(entry.localHeaderOffset, 30, `the local header of zip entry ${entry.name}`);
    if (h.getUint32(0, true) !== LOCAL_SIG) throw new FactlabError(`${this.path}: zip entry ${entry.name} has no local header where the directory says; the file is corrupt`);
    const start = entry.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
    if (start + entry.compressedSize > this.size) throw new FactlabError(`${this.path}: zip entry ${entry.name} (${entry.compressedSize} bytes at ${start}) runs past the end of the file; the file is truncated`);
    entry.dataOffset = start;
    return start;
  }

  /**
   * `length` bytes of an entry's uncompressed content from `offset`, into a fresh buffer that starts at byte 0.
   * Stored entries are read in place with no other bytes touched; CRCs are not checked, because that would mean
   * reading every byte of a multi-gigabyte archive to load one tensor.
   */
  readRange(entry: ZipEntry, offset: number, length: number): Uint8Array {
    if (offset + length > entry.size) throw new FactlabError(`${this.path}: zip entry ${entry.name} has ${entry.size} bytes; bytes ${offset}..${offset + length} were asked for`);
    if (entry.flags & 1) throw new FactlabError(`${this.path}: zip entry ${entry.name} is encrypted`);
    const start = this.dataOffset(entry);
    if (entry.method === STORED) {
      const out = allocBytes(length, `${this.path}: zip entry ${entry.name}`);
      readFully(this.handle(), out, start + offset, this.path, `zip entry ${entry.name}`);
      return out;
    }
    if (entry.method === DEFLATED) {
      const packed = new Uint8Array(entry.compressedSize);
      readFully(this.handle(), packed, start, this.path, `zip entry ${entry.name}`);
      let all: Uint8Array;
      try {
        all = inflateRawSync(packed);
      } catch (e) {
        throw new FactlabError(`${this.path}: zip entry ${entry.name} does not inflate (${(e as Error).message}); the file is corrupt`);
      }
      // A copy, not Buffer#slice's view: callers reinterpret the result from byte 0 of its own buffer.
      return new Uint8Array(all.subarray(offset, offset + length));
    }
    throw new FactlabError(`${this.path}: zip entry ${entry.name} uses compression method ${entry.method}; torch checkpoints are stored uncompressed and factlab reads only stored or deflated entries`);
  }

  readAll(entry: ZipEntry): Uint8Array {
    return this.readRange(entry, 0, entry.size);
  }

  close(): void {
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = undefined;
  }
}
