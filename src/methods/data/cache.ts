import type * as Fs from 'node:fs';
import type * as Path from 'node:path';
import { requireNodeBuiltin } from '../../tensor/node-builtins.js';

// Reached at run time rather than imported, so that hash32 (tracing's seeds) also builds in a browser.
const fs = () => requireNodeBuiltin<typeof Fs>('node:fs', 'caching results in files');

/**
 * Writes JSON so that a reader never sees half of it: to a temporary file beside the target, then renamed over it
 * (rename is atomic within a file system). An interrupted run leaves at most a stray temporary file.
 */
export function writeJsonAtomic(path: string, value: unknown): void {
  const { mkdirSync, renameSync, writeFileSync } = fs();
  mkdirSync(requireNodeBuiltin<typeof Path>('node:path', 'caching results in files').dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value)}\n`);
  renameSync(tmp, path);
}

export type CacheRead<T> = { state: 'missing' } | { state: 'ok'; value: T } | { state: 'corrupt'; why: string };

/** Reads a cached JSON value and checks it with `valid`; a file that does not parse or check is reported, not thrown. */
export function readJsonCache<T>(path: string, valid: (v: unknown) => string | null): CacheRead<T> {
  const { existsSync, readFileSync } = fs();
  if (!existsSync(path)) return { state: 'missing' };
  let value: unknown;
  try { value = JSON.parse(readFileSync(path, 'utf8')); } catch (e) { return { state: 'corrupt', why: `not JSON (${(e as Error).message})` }; }
  const why = valid(value);
  return why === null ? { state: 'ok', value: value as T } : { state: 'corrupt', why };
}

/** FNV-1a of a string: a stable 32-bit seed or fingerprint. */
export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  return h;
}
