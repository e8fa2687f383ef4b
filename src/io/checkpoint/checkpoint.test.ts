import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCheckpoint, saveSafetensors, type Checkpoint } from './index.js';
import { stateDictPickle, tempDir, writeTorchZip } from './testing.js';
import { tensor } from '../../tensor/creation.js';
import { FactlabError } from '../../tensor/errors.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/models/', import.meta.url));

async function rejectsFactlab(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FactlabError, `expected a FactlabError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

async function values(c: Checkpoint, name: string): Promise<number[]> {
  const t = await c.load(name);
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}

test('each fixture directory opens with the reader its files call for', async () => {
  const expected: [string, Checkpoint['format'], number][] = [
    ['mamba-tiny', 'safetensors', 22],
    ['mamba-tiny-bf16', 'safetensors', 22],
    ['pythia-sequential', 'safetensors-sharded', 0],
    ['mamba-tiny-state-spaces', 'pytorch', 23],
  ];
  for (const [dir, format, count] of expected) {
    const c = await openCheckpoint(join(FIXTURES, dir));
    try {
      assert.equal(c.format, format, dir);
      if (count) assert.equal(c.names().length, count, dir);
      const first = c.names()[0]!;
      const t = await c.load(first);
      assert.deepEqual(t.shape, c.info(first).shape);
      t.dispose();
    } finally {
      c.close();
    }
  }
});

test('sharded safetensors: every tensor of the index, from the shard it names', async () => {
  const dir = join(FIXTURES, 'pythia-sequential');
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string>; metadata: { total_size: number } };
  const c = await openCheckpoint(dir);
  try {
    assert.deepEqual(c.names(), Object.keys(index.weight_map));
    let bytes = 0;
    for (const n of c.names()) {
      const t = await c.load(n);
      bytes += 4 * t.size;
      t.dispose();
    }
    assert.equal(bytes, index.metadata.total_size);
    const direct = await openCheckpoint(join(dir, index.weight_map['embed_out.weight']!));
    assert.deepEqual(await values(c, 'embed_out.weight'), await values(direct, 'embed_out.weight'));
    direct.close();
  } finally {
    c.close();
  }
});

test('{ file } opens another file of the directory; a file path opens directly', async () => {
  const ref = await openCheckpoint(join(FIXTURES, 'mamba-tiny'), { file: 'reference.safetensors' });
  const t = await ref.load('plain.input_ids');
  assert.equal(t.dtype, 'int32');
  t.dispose();
  ref.close();
  const bin = await openCheckpoint(join(FIXTURES, 'mamba-tiny-state-spaces', 'pytorch_model.bin'));
  assert.equal(bin.format, 'pytorch');
  bin.close();
});

test('a directory without a checkpoint: the error names it and the files looked for', async () => {
  const dir = tempDir('ckpt-empty');
  writeFileSync(join(dir, 'config.json'), '{}');
  await rejectsFactlab(openCheckpoint(dir), new RegExp(`${dir}: no checkpoint found \\(looked for model\\.safetensors, model\\.safetensors\\.index\\.json, pytorch_model\\.bin, pytorch_model\\.bin\\.index\\.json\\)$`));
  writeFileSync(join(dir, 'adapter.safetensors'), '');
  await rejectsFactlab(openCheckpoint(dir), /it has adapter\.safetensors, which can be opened with \{ file \}/);
  await rejectsFactlab(openCheckpoint(join(dir, 'nowhere')), /nowhere: no such model directory/);
  await rejectsFactlab(openCheckpoint(dir, { file: 'other.safetensors' }), /has no other\.safetensors/);
});

test('a missing tensor name is an error naming the tensor and the checkpoint, whatever the format', async () => {
  for (const dir of ['mamba-tiny', 'pythia-sequential', 'mamba-tiny-state-spaces']) {
    const c = await openCheckpoint(join(FIXTURES, dir));
    await rejectsFactlab(c.load('no.such.weight'), new RegExp(`${dir}/[\\w.-]+: no tensor named "no\\.such\\.weight" in this checkpoint`));
    assert.throws(() => c.info('no.such.weight'), /no tensor named "no\.such\.weight"/);
    assert.equal(c.has('no.such.weight'), false);
    c.close();
  }
});

/** A directory with two safetensors shards and an index, with `index` edits applied. */
async function shardedDir(edit: (index: { weight_map: Record<string, string> }) => void = () => {}): Promise<string> {
  const dir = tempDir('ckpt-shards');
  const a = tensor(new Float32Array([1, 2]), [2]);
  const b = tensor(new Float32Array([3]), [1]);
  await saveSafetensors(join(dir, 'model-00001-of-00002.safetensors'), { a });
  await saveSafetensors(join(dir, 'model-00002-of-00002.safetensors'), { b });
  a.dispose();
  b.dispose();
  const index = { metadata: { total_size: 12 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } };
  edit(index);
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2));
  return dir;
}

test('sharded index errors: missing shard, duplicate name, wrong shard, name in two shards, bad JSON', async () => {
  const ok = await openCheckpoint(await shardedDir());
  assert.deepEqual(ok.names(), ['a', 'b']);
  assert.deepEqual(await values(ok, 'b'), [3]);
  ok.close();

  const missing = await shardedDir((i) => { i.weight_map.b = 'model-00009-of-00002.safetensors'; });
  await rejectsFactlab(openCheckpoint(missing), /model\.safetensors\.index\.json: 1 shard file\(s\) named in weight_map are missing from .*: model-00009-of-00002\.safetensors \(holding "b"\)/);

  const dup = await shardedDir();
  const text = readFileSync(join(dup, 'model.safetensors.index.json'), 'utf8').replace('"b": "model-00002', '"a": "model-00001-of-00002.safetensors",\n    "b": "model-00002');
  writeFileSync(join(dup, 'model.safetensors.index.json'), text);
  await rejectsFactlab(openCheckpoint(dup), /model\.safetensors\.index\.json: tensor "a" is listed twice in weight_map/);

  const swapped = await shardedDir((i) => { i.weight_map = { a: 'model-00002-of-00002.safetensors', b: 'model-00001-of-00002.safetensors' }; });
  await rejectsFactlab(openCheckpoint(swapped), /weight_map puts tensor "a" in model-00002-of-00002\.safetensors, but it is in model-00001-of-00002\.safetensors/);
  const unheld = await shardedDir((i) => { i.weight_map.b = 'model-00001-of-00002.safetensors'; });
  await rejectsFactlab(openCheckpoint(unheld), /weight_map puts tensor "b" in model-00001-of-00002\.safetensors, but that shard has no such tensor/);

  const twice = await shardedDir();
  copyFileSync(join(twice, 'model-00001-of-00002.safetensors'), join(twice, 'model-00002-of-00002.safetensors'));
  await rejectsFactlab(openCheckpoint(twice), /tensor "a" is stored in two shards, model-00001-of-00002\.safetensors and model-00002-of-00002\.safetensors/);

  const escape = await shardedDir((i) => { i.weight_map.b = '../elsewhere.safetensors'; });
  await rejectsFactlab(openCheckpoint(escape), /puts tensor "b" in "\.\.\/elsewhere\.safetensors", outside the model directory/);

  const bad = await shardedDir();
  writeFileSync(join(bad, 'model.safetensors.index.json'), '{"weight_map": {"a": ');
  await rejectsFactlab(openCheckpoint(bad), /model\.safetensors\.index\.json: not valid JSON/);
});

test('pytorch_model.bin.index.json: sharded .bin files', async () => {
  const dir = tempDir('ckpt-binshards');
  mkdirSync(dir, { recursive: true });
  const one = (name: string, v: number[]) => stateDictPickle([{ name, storage: '0', type: 'FloatStorage', numel: v.length, offset: 0, shape: [v.length], stride: [1] }]);
  writeTorchZip(join(dir, 'pytorch_model-00001-of-00002.bin'), one('x', [1, 2]), { 0: new Uint8Array(Float32Array.from([1, 2]).buffer) });
  writeTorchZip(join(dir, 'pytorch_model-00002-of-00002.bin'), one('y', [5]), { 0: new Uint8Array(Float32Array.from([5]).buffer) });
  writeFileSync(join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ metadata: {}, weight_map: { x: 'pytorch_model-00001-of-00002.bin', y: 'pytorch_model-00002-of-00002.bin' } }));
  const c = await openCheckpoint(dir);
  try {
    assert.equal(c.format, 'pytorch-sharded');
    assert.deepEqual(await values(c, 'x'), [1, 2]);
    assert.deepEqual(await values(c, 'y'), [5]);
    assert.deepEqual(c.info('y'), { dtype: 'F32', shape: [1] });
  } finally {
    c.close();
  }
});
