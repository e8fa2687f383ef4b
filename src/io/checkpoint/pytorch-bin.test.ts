import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PytorchBinFile } from './pytorch-bin.js';
import { SafetensorsFile } from './safetensors.js';
import { PickleWriter, stateDictPickle, tempDir, writeTorchZip, type ViewSpec } from './testing.js';
import { FactlabError } from '../../tensor/errors.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/models/', import.meta.url));
const BIN = join(FIXTURES, 'mamba-tiny-state-spaces', 'pytorch_model.bin');

function throwsFactlab(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FactlabError, `expected a FactlabError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

const f32bytes = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

test("state-spaces' pytorch_model.bin holds exactly mamba-tiny's tensors", async () => {
  const bin = PytorchBinFile.open(BIN);
  const st = SafetensorsFile.open(join(FIXTURES, 'mamba-tiny', 'model.safetensors'));
  try {
    const rename = (n: string) => n.replace(/^backbone\.embedding\./, 'backbone.embeddings.');
    const names = bin.names();
    assert.deepEqual(new Set(names.filter((n) => n !== 'lm_head.weight').map(rename)), new Set(st.names()));
    for (const n of names) {
      const other = n === 'lm_head.weight' ? 'backbone.embeddings.weight' : rename(n);
      assert.deepEqual(bin.info(n), st.info(other), n);
      const a = await bin.load(n);
      const b = await st.load(other);
      assert.equal(a.dtype, 'float32');
      assert.deepEqual(a.shape, b.shape, n);
      assert.deepEqual(await a.data(), await b.data(), n);
      a.dispose();
      b.dispose();
    }
  } finally {
    bin.close();
    st.close();
  }
});

test('views: storage offsets, transposed and broadcast strides, tied tensors, 16-bit and integer storages', async () => {
  const dir = tempDir('bin');
  const views: ViewSpec[] = [
    { name: 'whole', storage: '0', type: 'FloatStorage', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
    { name: 'tied', storage: '0', type: 'FloatStorage', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
    { name: 'transposed', storage: '0', type: 'FloatStorage', numel: 6, offset: 0, shape: [3, 2], stride: [1, 3] },
    { name: 'row1', storage: '0', type: 'FloatStorage', numel: 6, offset: 3, shape: [3], stride: [1] },
    { name: 'column2', storage: '0', type: 'FloatStorage', numel: 6, offset: 2, shape: [2], stride: [3] },
    { name: 'expanded', storage: '0', type: 'FloatStorage', numel: 6, offset: 1, shape: [2, 2], stride: [0, 1] },
    { name: 'scalar', storage: '0', type: 'FloatStorage', numel: 6, offset: 5, shape: [], stride: [] },
    { name: 'empty', storage: '0', type: 'FloatStorage', numel: 6, offset: 0, shape: [0, 3], stride: [3, 1] },
    { name: 'half', storage: '1', type: 'HalfStorage', numel: 4, offset: 0, shape: [2, 2], stride: [1, 2] },
    { name: 'long', storage: '2', type: 'LongStorage', numel: 3, offset: 0, shape: [3], stride: [1] },
    { name: 'mask', storage: '3', type: 'BoolStorage', numel: 3, offset: 0, shape: [3], stride: [1] },
    { name: 'double', storage: '4', type: 'DoubleStorage', numel: 2, offset: 0, shape: [2], stride: [1] },
  ];
  const path = join(dir, 'views.bin');
  writeTorchZip(path, stateDictPickle(views), {
    0: f32bytes([0, 1, 2, 3, 4, 5]),
    1: new Uint8Array(Uint16Array.from([0x3c00, 0x4000, 0x4200, 0x4400]).buffer),
    2: new Uint8Array(BigInt64Array.from([5n, -1n, 50000n]).buffer),
    3: Uint8Array.from([1, 0, 1]),
    4: new Uint8Array(Float64Array.from([0.5, -1e300]).buffer),
  });
  const f = PytorchBinFile.open(path);
  const expect: Record<string, [string, number[]]> = {
    whole: ['float32', [0, 1, 2, 3, 4, 5]],
    tied: ['float32', [0, 1, 2, 3, 4, 5]],
    transposed: ['float32', [0, 3, 1, 4, 2, 5]],
    row1: ['float32', [3, 4, 5]],
    column2: ['float32', [2, 5]],
    expanded: ['float32', [1, 2, 1, 2]],
    scalar: ['float32', [5]],
    empty: ['float32', []],
    half: ['float32', [1, 3, 2, 4]],
    long: ['int32', [5, -1, 50000]],
    mask: ['int32', [1, 0, 1]],
    double: ['float32', [0.5, -Infinity]],
  };
  try {
    assert.deepEqual(f.names(), views.map((v) => v.name));
    assert.deepEqual(f.info('half'), { dtype: 'F16', shape: [2, 2] });
    assert.deepEqual(f.info('long'), { dtype: 'I64', shape: [3] });
    for (const [name, [dtype, values]] of Object.entries(expect)) {
      const t = await f.load(name);
      assert.equal(t.dtype, dtype, name);
      assert.deepEqual(Array.from(await t.data()), values, name);
      t.dispose();
    }
    const kept = await f.load('half', { keep16: true });
    assert.equal(kept.dtype, 'float16');
    assert.deepEqual(Array.from(await kept.data()), [0x3c00, 0x4200, 0x4000, 0x4400]);
    kept.dispose();
  } finally {
    f.close();
  }
});

test('big-endian archives are byte-swapped; the archive prefix may be any name', async () => {
  const dir = tempDir('bin');
  const path = join(dir, 'be.bin');
  const be = Buffer.alloc(8);
  be.writeFloatBE(1.5, 0);
  be.writeFloatBE(-2, 4);
  writeTorchZip(path, stateDictPickle([{ name: 'w', storage: '0', type: 'FloatStorage', numel: 2, offset: 0, shape: [2], stride: [1] }]), { 0: be }, { byteorder: 'big', prefix: 'my_model' });
  const f = PytorchBinFile.open(path);
  const t = await f.load('w');
  assert.deepEqual(Array.from(await t.data()), [1.5, -2]);
  t.dispose();
  f.close();
});

test('deflated archives (re-zipped by hand) are read too, including strided views', async () => {
  const dir = tempDir('bin');
  const path = join(dir, 'deflated.bin');
  writeTorchZip(path, stateDictPickle([
    { name: 't', storage: '0', type: 'FloatStorage', numel: 6, offset: 1, shape: [2, 2], stride: [1, 3] },
  ]), { 0: f32bytes([0, 1, 2, 3, 4, 5]) }, { deflate: true });
  const f = PytorchBinFile.open(path);
  const t = await f.load('t');
  assert.deepEqual(Array.from(await t.data()), [1, 4, 2, 5]);
  t.dispose();
  f.close();
});

test('zip64 archives over 4 GiB: entries past 4 GiB are found and read in place', async () => {
  // Sparse storages keep the 4.3 GB archive from taking disk space; only the bytes that are read are real.
  const dir = tempDir('bin64');
  const path = join(dir, 'big.bin');
  const bigBytes = 2 ** 32 + 64;
  const numel = bigBytes / 4;
  writeTorchZip(path, stateDictPickle([
    { name: 'far', storage: '0', type: 'FloatStorage', numel, offset: numel - 2, shape: [2], stride: [1] },
    { name: 'after', storage: '1', type: 'FloatStorage', numel: 3, offset: 0, shape: [3], stride: [1] },
  ]), { 0: { data: f32bytes([7, 8]), size: bigBytes }, 1: f32bytes([1, 2, 3]) }, { zip64: true });
  const f = PytorchBinFile.open(path);
  try {
    const far = await f.load('far');
    const after = await f.load('after');
    assert.deepEqual(Array.from(await far.data()), [7, 8]);
    assert.deepEqual(Array.from(await after.data()), [1, 2, 3]);
    far.dispose();
    after.dispose();
  } finally {
    f.close();
  }
});

test('a pickle that asks for os.system is refused, naming the file and the global', () => {
  const dir = tempDir('bin-evil');
  const path = join(dir, 'pytorch_model.bin');
  const evil = new PickleWriter().proto().global('os', 'system').mark().str('echo pwned > /tmp/factlab-pwned').tuple().reduce().stop().build();
  writeTorchZip(path, evil, {});
  throwsFactlab(() => PytorchBinFile.open(path), /pytorch_model\.bin: the pickle asks for the global os\.system, which a state dict never needs; refusing to load it/);
});

test('other ways to run code are refused too', () => {
  const dir = tempDir('bin-evil');
  const cases: [string, Uint8Array, RegExp][] = [
    ['builtins.eval as a dict value', new PickleWriter().proto().emptyDict().str('w').global('builtins', 'eval').op(0x73).stop().build(), /the global builtins\.eval/],
    ['STACK_GLOBAL of subprocess', new PickleWriter().proto().str('subprocess').str('Popen').op(0x93).stop().build(), /the global subprocess\.Popen/],
    ['INST', Uint8Array.from([0x80, 2, 0x28, 0x69, ...Buffer.from('os\nsystem\n'), 0x2e]), /the global os\.system/],
    ['INST of an allowed class', Uint8Array.from([0x80, 2, 0x28, 0x69, ...Buffer.from('collections\nOrderedDict\n'), 0x2e]), /opcode INST/],
    ['EXT1 (extension registry)', Uint8Array.from([0x80, 2, 0x82, 1, 0x2e]), /opcode EXT1 \(0x82\) at byte 2, which a state dict never needs/],
    ['calling a non-callable', new PickleWriter().proto().global('torch', 'FloatStorage').emptyTuple().reduce().stop().build(), /it calls .*not callable/],
    ['BUILD on a storage type', new PickleWriter().proto().global('torch', 'FloatStorage').emptyDict().op(0x62).stop().build(), /sets the state of StorageType/],
  ];
  for (const [what, pickle, pattern] of cases) {
    const path = join(dir, `${what.replace(/\W+/g, '_')}.bin`);
    writeTorchZip(path, pickle, {});
    throwsFactlab(() => PytorchBinFile.open(path), new RegExp(`${what.replace(/\W+/g, '_')}\\.bin: .*${pattern.source}`));
  }
});

test('truncated and damaged archives give one clear error', () => {
  const dir = tempDir('bin-bad');
  const whole = readFileSync(BIN);
  const cut = join(dir, 'cut.bin');
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
  throwsFactlab(() => PytorchBinFile.open(cut), /cut\.bin: not a complete zip archive \(no end-of-central-directory record\); the file is truncated/);
  const empty = join(dir, 'empty.bin');
  writeFileSync(empty, '');
  throwsFactlab(() => PytorchBinFile.open(empty), /empty\.bin: not a complete zip archive/);
  const legacy = join(dir, 'legacy.bin');
  writeFileSync(legacy, Uint8Array.from([0x80, 2, 0x8a, 10]));
  throwsFactlab(() => PytorchBinFile.open(legacy), /legacy\.bin: a PyTorch checkpoint in the legacy format of torch < 1\.6/);

  const views = stateDictPickle([{ name: 'w', storage: '0', type: 'FloatStorage', numel: 4, offset: 0, shape: [4], stride: [1] }]);
  const noStorage = join(dir, 'nostorage.bin');
  writeTorchZip(noStorage, views, {});
  throwsFactlab(() => PytorchBinFile.open(noStorage), /nostorage\.bin: storage 0 is missing from the archive/);
  const small = join(dir, 'small.bin');
  writeTorchZip(small, views, { 0: f32bytes([1, 2]) });
  throwsFactlab(() => PytorchBinFile.open(small), /small\.bin: storage 0 holds 8 bytes, but the pickle declares 4 F32 elements/);
  const outside = join(dir, 'outside.bin');
  writeTorchZip(outside, stateDictPickle([{ name: 'w', storage: '0', type: 'FloatStorage', numel: 2, offset: 1, shape: [2], stride: [1] }]), { 0: f32bytes([1, 2]) });
  throwsFactlab(() => PytorchBinFile.open(outside), /outside\.bin: tensor "w" \(\[2\], offset 1, stride \[1\]\) reaches element 2 of storage 0, which has 2/);
  const truncatedPickle = join(dir, 'pickle.bin');
  writeTorchZip(truncatedPickle, views.subarray(0, 40), {});
  throwsFactlab(() => PytorchBinFile.open(truncatedPickle), /pickle\.bin: the pickle ends unexpectedly/);
  const notDict = join(dir, 'list.bin');
  writeTorchZip(notDict, new PickleWriter().proto().op(0x5d).stop().build(), {});
  throwsFactlab(() => PytorchBinFile.open(notDict), /list\.bin: archive\/data\.pkl holds a list of 0, not a state dict/);
});

test('a missing tensor name is an error naming the file and the tensor', async () => {
  const f = PytorchBinFile.open(BIN);
  throwsFactlab(() => f.info('nope'), /pytorch_model\.bin: no tensor named "nope"/);
  await assert.rejects(f.load('nope'), /pytorch_model\.bin: no tensor named "nope"/);
  f.close();
});
