import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile, saveSafetensors } from './safetensors.js';
import { tempDir } from './testing.js';
import { setIoChunkBytes } from './dtypes.js';
import { tensor } from '../../tensor/creation.js';
import { FactlabError } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/models/', import.meta.url));

/** A safetensors file from a header object and a data section, for malformed-input tests. */
function rawFile(dir: string, name: string, header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): string {
  const json = Buffer.from(headerText ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, data]));
  return path;
}

function throwsFactlab(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FactlabError, `expected a FactlabError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('reads a transformers fixture: names, info, values as stored', async () => {
  const f = SafetensorsFile.open(join(FIXTURES, 'mamba-tiny', 'model.safetensors'));
  try {
    assert.deepEqual(f.metadata, { format: 'pt' });
    assert.ok(f.names().includes('backbone.embeddings.weight'));
    assert.deepEqual(f.info('backbone.embeddings.weight'), { dtype: 'F32', shape: [512, 64] });
    const t = await f.load('backbone.embeddings.weight');
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.shape, [512, 64]);
    // The same bytes, found independently from the header.
    const file = readFileSync(join(FIXTURES, 'mamba-tiny', 'model.safetensors'));
    const n = Number(file.readBigUInt64LE(0));
    const h = JSON.parse(file.subarray(8, 8 + n).toString()) as Record<string, { data_offsets: [number, number] }>;
    const [b, e] = h['backbone.embeddings.weight']!.data_offsets;
    const expected = new Float32Array(file.buffer.slice(file.byteOffset + 8 + n + b, file.byteOffset + 8 + n + e));
    assert.deepEqual(await t.data(), expected);
    t.dispose();
  } finally {
    f.close();
  }
});

test('bfloat16: widened to float32 by default, kept as bfloat16 bits with keep16', async () => {
  const f = SafetensorsFile.open(join(FIXTURES, 'mamba-tiny-bf16', 'model.safetensors'));
  try {
    const name = 'backbone.layers.0.mixer.in_proj.weight';
    assert.equal(f.info(name).dtype, 'BF16');
    const bits = await f.load(name, { keep16: true });
    const wide = await f.load(name);
    assert.equal(bits.dtype, 'bfloat16');
    assert.equal(wide.dtype, 'float32');
    const u16 = (await bits.data()) as Uint16Array;
    const f32 = new Uint32Array(((await wide.data()) as Float32Array).buffer);
    for (let i = 0; i < u16.length; i++) assert.equal(f32[i], (u16[i]! << 16) >>> 0);
    bits.dispose();
    wide.dispose();
  } finally {
    f.close();
  }
});

test('integer reference tensors become int32', async () => {
  const f = SafetensorsFile.open(join(FIXTURES, 'mamba-tiny', 'reference.safetensors'));
  try {
    const ids = await f.load('plain.input_ids');
    assert.equal(ids.dtype, 'int32');
    assert.deepEqual(ids.shape, [3, 7]);
    ids.dispose();
  } finally {
    f.close();
  }
});

test('round trip: every engine dtype, scalars, empty tensors and metadata', async () => {
  const dir = tempDir('st');
  const tensors: Record<string, Tensor> = {
    'w.float': tensor(new Float32Array([1.5, -2, 3.25, Number.NaN, Infinity, -0]), [2, 3]),
    'ids': tensor(new Int32Array([7, -1, 2 ** 31 - 1]), [3]),
    'half': tensor(Uint16Array.from([0x3c00, 0xc000, 0x7bff]), [3], { dtype: 'float16' }),
    'brain': tensor(Uint16Array.from([0x3f80, 0x4049]), [1, 2], { dtype: 'bfloat16' }),
    'scalar': tensor(new Float32Array([42]), []),
    'empty': tensor(new Float32Array(0), [0, 4]),
    'ünïcode name': tensor(new Float32Array([1]), [1]),
  };
  const path = join(dir, 'out.safetensors');
  await saveSafetensors(path, tensors, { format: 'pt', note: 'a "quoted" value' });
  assert.deepEqual(readdirSync(dir), ['out.safetensors'], 'no temporary file is left behind');
  const bytes = readFileSync(path);
  assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
  const f = SafetensorsFile.open(path);
  try {
    assert.deepEqual(f.metadata, { format: 'pt', note: 'a "quoted" value' });
    assert.deepEqual(new Set(f.names()), new Set(Object.keys(tensors)));
    for (const [name, t] of Object.entries(tensors)) {
      const back = await f.load(name, { keep16: true });
      assert.equal(back.dtype, t.dtype, name);
      assert.deepEqual(back.shape, t.shape, name);
      assert.deepEqual(await back.data(), await t.data(), name);
      back.dispose();
    }
    const widened = await f.load('half');
    assert.deepEqual(Array.from(await widened.data()), [1, -2, 65504]);
    widened.dispose();
  } finally {
    f.close();
    for (const t of Object.values(tensors)) t.dispose();
  }
});

for (const [dir, keep16] of [['mamba-tiny', false], ['mamba-tiny-bf16', true], ['pythia-parallel', false]] as const) {
  test(`${dir}: reading every tensor and writing them again gives the same file, byte for byte`, async () => {
    const src = join(FIXTURES, dir, 'model.safetensors');
    const f = SafetensorsFile.open(src);
    const loaded: Record<string, Tensor> = {};
    try {
      for (const n of f.names()) loaded[n] = await f.load(n, { keep16 });
      const out = join(tempDir('st'), 'model.safetensors');
      await saveSafetensors(out, loaded, { ...f.metadata });
      const g = SafetensorsFile.open(out);
      try {
        for (const n of f.names()) assert.deepEqual(g.readRaw(n), f.readRaw(n), n);
      } finally {
        g.close();
      }
      // Python's writer orders and pads the header the same way, so the whole file matches.
      assert.ok(readFileSync(out).equals(readFileSync(src)), 'identical to the file transformers wrote');
    } finally {
      f.close();
      for (const t of Object.values(loaded)) t.dispose();
    }
  });
}

test('saving refuses the reserved name and leaves no partial file when a tensor was disposed', async () => {
  const dir = tempDir('st');
  const t = tensor(new Float32Array([1]), [1]);
  await assert.rejects(saveSafetensors(join(dir, 'a.safetensors'), { __metadata__: t }), /__metadata__.*reserved/);
  const gone = tensor(new Float32Array([1]), [1]);
  gone.dispose();
  await assert.rejects(saveSafetensors(join(dir, 'a.safetensors'), { ok: t, gone }), /gone/);
  assert.deepEqual(readdirSync(dir), []);
  t.dispose();
});

test('malformed files: one FactlabError each, naming the file and the tensor', () => {
  const dir = tempDir('st-bad');
  const f32 = (n: number) => new Uint8Array(4 * n);
  const cases: [string, () => string, RegExp][] = [
    ['truncated before the header length', () => { const p = join(dir, 'short.safetensors'); writeFileSync(p, Buffer.from([1, 2, 3])); return p; }, /short\.safetensors: truncated: 3 bytes/],
    ['header length beyond the file', () => { const p = join(dir, 'long.safetensors'); const b = Buffer.alloc(16, 0x20); b.writeBigUInt64LE(2n ** 64n - 1n); writeFileSync(p, b); return p; }, /long\.safetensors: the header length says 18446744073709551615 bytes, but only 8 follow it/],
    ['truncated header', () => { const p = join(dir, 'cut.safetensors'); const b = Buffer.alloc(8); b.writeBigUInt64LE(1000n); writeFileSync(p, Buffer.concat([b, Buffer.from('{"a":{}}')])); return p; }, /cut\.safetensors: the header length says 1000 bytes, but only 8 follow it/],
    ['corrupt JSON', () => rawFile(dir, 'json.safetensors', null, undefined, '{"a": {"dtype": "F32",'), /json\.safetensors: the safetensors header is not valid JSON/],
    ['unknown dtype', () => rawFile(dir, 'dtype.safetensors', { w: { dtype: 'F7', shape: [1], data_offsets: [0, 4] } }, f32(1)), /dtype\.safetensors: tensor "w" has dtype "F7", which factlab cannot read/],
    ['offsets out of range', () => rawFile(dir, 'range.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /range\.safetensors: tensor "w": data_offsets \[0,16\] lie outside the data section, which has 8 bytes/],
    ['wrong size', () => rawFile(dir, 'size.safetensors', { w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), /size\.safetensors: tensor "w": data_offsets \[0,8\] hold 8 bytes, but F32\[3\] needs 12/],
    ['overlap', () => rawFile(dir, 'overlap.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /overlap\.safetensors: tensors "a" and "b" overlap/],
    ['gap', () => rawFile(dir, 'gap.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32(3)), /gap\.safetensors: 4 unused bytes lie before tensor "b"/],
    ['trailing bytes', () => rawFile(dir, 'tail.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /tail\.safetensors: the data section has 8 bytes, but the tensors account for only 4/],
    ['negative shape', () => rawFile(dir, 'shape.safetensors', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /shape\.safetensors: tensor "w": shape \[-1\]/],
    ['duplicate name', () => rawFile(dir, 'dup.safetensors', null, f32(2), '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'), /dup\.safetensors: tensor "w" appears twice/],
    ['not an object', () => rawFile(dir, 'array.safetensors', [1, 2]), /array\.safetensors: the safetensors header is not a JSON object/],
  ];
  for (const [what, make, pattern] of cases) {
    const path = make();
    throwsFactlab(() => SafetensorsFile.open(path), pattern);
    assert.ok(what);
  }
});

test('a missing tensor name, and loading after close, are errors naming the file and tensor', async () => {
  const path = join(FIXTURES, 'mamba-tiny', 'model.safetensors');
  const f = SafetensorsFile.open(path);
  throwsFactlab(() => f.info('lm_head.weight'), /mamba-tiny\/model\.safetensors: no tensor named "lm_head\.weight"/);
  await assert.rejects(f.load('lm_head.weight'), /no tensor named "lm_head\.weight"/);
  f.close();
  f.close();
  await assert.rejects(f.load('backbone.norm_f.weight'), /model\.safetensors: cannot read tensor "backbone\.norm_f\.weight": the checkpoint was closed/);
});

test('a tensor beyond 2 GiB into the file is read at its offset', async () => {
  // A sparse file: 2 GiB + 16 bytes of zeros take no disk space, and only the tail tensor's bytes are written.
  const dir = tempDir('st-big');
  const pad = 2 ** 31 + 16;
  const header = Buffer.from(JSON.stringify({
    pad: { dtype: 'U8', shape: [pad], data_offsets: [0, pad] },
    tail: { dtype: 'F32', shape: [4], data_offsets: [pad, pad + 16] },
  }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const path = join(dir, 'big.safetensors');
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.concat([len, header]), 0, 8 + header.length, 0);
  const tail = new Float32Array([1, 2, 3, 4]);
  writeSync(fd, new Uint8Array(tail.buffer), 0, 16, 8 + header.length + pad);
  closeSync(fd);
  const f = SafetensorsFile.open(path);
  try {
    const t = await f.load('tail');
    assert.deepEqual(await t.data(), tail);
    t.dispose();
  } finally {
    f.close();
  }
});

test('a tensor larger than one read is read in pieces', async () => {
  // The real piece is 1 GiB (readSync takes under 2 GiB); a 7-byte piece exercises the same loop on a fixture.
  const f = SafetensorsFile.open(join(FIXTURES, 'mamba-tiny', 'model.safetensors'));
  const name = 'backbone.layers.0.mixer.in_proj.weight';
  const whole = f.readRaw(name);
  setIoChunkBytes(7);
  try {
    assert.deepEqual(f.readRaw(name), whole);
  } finally {
    setIoChunkBytes();
    f.close();
  }
});
