/**
 * Reading large text files (plain UTF-8, or xz-compressed like the shared enwiki shards) as a stream of pieces,
 * so that what is read is never held whole. Node only.
 */
import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { ReadableStream } from 'node:stream/web';
import xzDecompress from 'xz-decompress';
import { FactlabError } from '../tensor/errors.js';

const MAX_LINE = 1 << 22;

type XzStream = new (s: ReadableStream<Uint8Array>) => AsyncIterable<Uint8Array>;

/**
 * A file as a pull-driven web stream, for the xz decoder. (Node's Readable.toWeb keeps pushing data after the
 * stream is cancelled, which throws "Controller is already closed" once we stop reading early.)
 */
function fileWebStream(file: string): ReadableStream<Uint8Array> {
  let handle: FileHandle | undefined;
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async start() {
      handle = await open(file, 'r');
    },
    async pull(controller) {
      const buf = new Uint8Array(1 << 20);
      try {
        const { bytesRead } = await handle!.read(buf, 0, buf.length, null);
        if (cancelled) return;
        if (bytesRead === 0) {
          await handle!.close();
          controller.close();
        } else controller.enqueue(buf.subarray(0, bytesRead));
      } catch (e) {
        if (!cancelled) throw e;
      }
    },
    async cancel() {
      cancelled = true;
      await handle?.close().catch(() => undefined);
    },
  });
}

async function* fileBytes(file: string): AsyncIterable<Uint8Array> {
  if (!file.endsWith('.xz')) {
    yield* createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
    return;
  }
  const { XzReadableStream } = xzDecompress as unknown as { XzReadableStream: XzStream };
  // Leaving this loop early (a size limit) cancels the decoder, which frees its lock for the next file.
  yield* new XzReadableStream(fileWebStream(file));
}

/**
 * The text of a file in pieces that each end with a line break (except the last, and those of lines over 4M characters), decoded as UTF-8
 * (a character split between chunks is joined); `.xz` files are decompressed on the fly. Errors name the file.
 */
export async function* textLines(file: string): AsyncIterable<string> {
  try {
    if (!(await stat(file)).isFile()) throw new FactlabError(`${file}: not a file`);
  } catch (e) {
    if (e instanceof FactlabError) throw e;
    throw new FactlabError(`${file}: no such file`);
  }
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  try {
    for await (const chunk of fileBytes(file)) {
      const text = carry + decoder.decode(chunk, { stream: true });
      // A file without line breaks still streams, in pieces that end anywhere.
      const end = text.length > MAX_LINE ? text.length : text.lastIndexOf('\n') + 1;
      carry = text.slice(end);
      if (end > 0) yield text.slice(0, end);
    }
    carry += decoder.decode();
  } catch (e) {
    if (e instanceof FactlabError) throw e;
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
    throw new FactlabError(`${file}: cannot read it${file.endsWith('.xz') ? ' as xz' : ''} (${why})`);
  }
  if (carry.length > 0) yield carry;
}

/** The first `maxChars` characters (UTF-16 units) of a file's text; reads no further. */
export async function textPrefix(file: string, maxChars: number): Promise<string> {
  let text = '';
  for await (const piece of textLines(file)) {
    text += piece;
    if (text.length >= maxChars) break;
  }
  if (text.length <= maxChars) return text;
  // Never half a surrogate pair.
  const high = text.charCodeAt(maxChars - 1);
  return text.slice(0, high >= 0xd800 && high <= 0xdbff ? maxChars - 1 : maxChars);
}
