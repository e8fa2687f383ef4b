// Where tests, benchmarks and examples find the project's shared data (FACTLAB_SHARED_DATA, or shared/data beside
// or inside the checkout). It is never copied into the repository, so tests that need it are skipped, naming the
// paths looked in, where it is absent.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/src/io → the repository root.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const candidates = [process.env.FACTLAB_SHARED_DATA, join(repoRoot, 'shared/data'), join(repoRoot, '../shared/data')].filter(
  (p): p is string => typeof p === 'string' && p.length > 0,
);

export const sharedData = candidates.find((p) => existsSync(join(p, 'tokenizers/gpt-neox-20b/tokenizer.json'))) ?? null;

/** A file or folder inside the shared data (null where there is none). */
export function sharedPath(...parts: string[]): string | null {
  return sharedData === null ? null : join(sharedData, ...parts);
}

export const neoxTokenizerPath = sharedData === null ? null : join(sharedData, 'tokenizers/gpt-neox-20b/tokenizer.json');

/** Set FACTLAB_SHARED_DATA to the folder holding tokenizers/ and known/. */
export const skipWithoutData = sharedData === null ? `shared data not found (looked in ${candidates.join(', ')})` : false;

export interface KnownRecord {
  known_id: number;
  subject: string;
  prompt: string;
}

export function knownRecords(): KnownRecord[] {
  if (sharedData === null) return [];
  return JSON.parse(readFileSync(join(sharedData, 'known/known_1000.json'), 'utf8')) as KnownRecord[];
}
