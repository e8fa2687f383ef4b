import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FactlabError } from '../tensor/errors.js';
import { sharedPath, skipWithoutData } from './shared-data.js';
import { textLines, textPrefix } from './text-stream.js';

async function collect(file: string): Promise<string[]> {
  const pieces: string[] = [];
  for await (const p of textLines(file)) pieces.push(p);
  return pieces;
}

test('a plain file comes back whole, in pieces that end at line breaks, multi-byte characters intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-text-'));
  try {
    // Over two 1 MiB read chunks, with 3- and 4-byte characters at every offset modulo the chunk size.
    const line = 'añ€𝄞 text 日本語 🤗\n';
    const text = line.repeat(Math.ceil(2.5 * 2 ** 20 / Buffer.byteLength(line))) + 'no final newline';
    const file = join(dir, 'big.txt');
    writeFileSync(file, text);
    const pieces = await collect(file);
    assert.ok(pieces.length >= 3);
    assert.equal(pieces.join(''), text);
    for (const p of pieces.slice(0, -1)) assert.ok(p.endsWith('\n'));
    // "𝄞" is two UTF-16 units: a prefix of 4 units stops before it rather than keep half of it.
    assert.equal(await textPrefix(file, 4), 'añ€', 'never half a surrogate pair');
    assert.equal(await textPrefix(file, 5), 'añ€𝄞');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('xz shards stream, and stopping early releases the decoder for the next reader', { skip: skipWithoutData }, async () => {
  const shard = sharedPath('enwiki', 'shard_00.xz')!;
  const a = await textPrefix(shard, 1000);
  assert.ok(a.startsWith('<doc id="12"'));
  // Two readers at once: the decoder's lock passes from one to the other when the first stops.
  const [b, c] = await Promise.all([textPrefix(shard, 50_000), textPrefix(sharedPath('enwiki', 'shard_01.xz')!, 2000)]);
  assert.equal(b.slice(0, 1000), a);
  assert.equal(c.length, 2000);
  assert.equal((await textPrefix(shard, 3000)).slice(0, 1000), a);
});

test('missing files, folders and broken xz are one error naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-text-'));
  try {
    const bad = join(dir, 'bad.xz');
    writeFileSync(bad, 'this is not xz');
    const cases: [string, string][] = [[join(dir, 'none.txt'), 'no such file'], [dir, 'not a file'], [bad, 'cannot read it as xz']];
    for (const [file, why] of cases) {
      await assert.rejects(collect(file), (e: unknown) => e instanceof FactlabError && e.message.startsWith(`${file}: ${why}`));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
