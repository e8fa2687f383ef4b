import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LanguageModel } from '../../models/model.js';

/**
 * A content hash of a model's config and every parameter's bytes: caches keyed by it (statistics, context
 * templates) are shared by any copy of the same weights and never by different ones. Reads every weight once.
 */
export async function modelFingerprint(model: LanguageModel): Promise<string> {
  const h = createHash('sha256');
  h.update(JSON.stringify(model.config));
  for (const [name, t] of [...model.params].sort(([a], [b]) => a.localeCompare(b))) {
    h.update(`${name}:${t.dtype}:${t.shape.join('x')};`);
    const d = await t.data();
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex').slice(0, 16);
}

/** A cheaper key for a model directory: its resolved path and the names, sizes and mtimes of its files. */
export function directoryFingerprint(dir: string): string {
  const h = createHash('sha256');
  h.update(resolve(dir));
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) { const s = statSync(join(dir, f)); if (s.isFile()) h.update(`${f}:${s.size}:${s.mtimeMs};`); }
  return h.digest('hex').slice(0, 16);
}
