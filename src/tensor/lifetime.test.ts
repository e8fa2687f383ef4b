import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keep, liveTensors, tidy, tidyAsync } from './lifetime.js';
import { tensor } from './creation.js';
import { add, mul } from './ops/elementwise/binary.js';
import { reshape } from './ops/shape/reshape.js';
import { cpuBackend } from './backends/cpu/cpu-backend.js';
import { FactlabError } from './errors.js';

test('tidy disposes what it made except what it returns, searching arrays and objects', async () => {
  const before = liveTensors();
  const x = tensor([1, 2, 3]);
  const out = tidy(() => {
    const y = mul(x, 2);
    const z = add(y, 1);
    return { list: [z], n: 3 };
  });
  assert.equal(liveTensors(), before + 2);
  assert.deepEqual(Array.from(await out.list[0]!.data()), [3, 5, 7]);
  x.dispose(); out.list[0]!.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy disposes everything when the function throws', () => {
  const before = liveTensors(), bytes = cpuBackend.allocatedBytes();
  assert.throws(() => tidy(() => { tensor([1, 2]); throw new Error('boom'); }), /boom/);
  assert.equal(liveTensors(), before);
  assert.equal(cpuBackend.allocatedBytes(), bytes);
});

test('nested scopes hand returned tensors to the enclosing scope', () => {
  const before = liveTensors();
  tidy(() => {
    const inner = tidy(() => tensor([1]));
    assert.equal(inner.isDisposed, false);
    return null;
  });
  assert.equal(liveTensors(), before);
});

test('keep lets a tensor outlive its scope, and only that tensor', async () => {
  let kept: ReturnType<typeof tensor> | undefined, dropped: ReturnType<typeof tensor> | undefined;
  tidy(() => { kept = keep(tensor([4])); dropped = tensor([5]); return null; });
  assert.equal(kept!.isDisposed, false);
  assert.equal(dropped!.isDisposed, true);
  assert.deepEqual(Array.from(await kept!.data()), [4]);
  kept!.dispose();
});

test('a view keeps its storage alive after the original is disposed', async () => {
  const bytes = cpuBackend.allocatedBytes();
  const x = tensor([1, 2, 3, 4]);
  const v = reshape(x, [2, 2]);
  x.dispose();
  assert.equal(cpuBackend.allocatedBytes(), bytes + 16);
  assert.deepEqual(Array.from(await v.data()), [1, 2, 3, 4]);
  v.dispose();
  assert.equal(cpuBackend.allocatedBytes(), bytes);
});

test('using a disposed tensor names it', async () => {
  const x = tensor([1]);
  x.dispose();
  await assert.rejects(x.data(), (e: unknown) => e instanceof FactlabError && /data: tensor #\d+ float32\[1\] was already disposed/.test(e.message));
  assert.throws(() => add(x, 1), /add: tensor #\d+ float32\[1\] was already disposed/);
});

test('tidy refuses async functions and tidyAsync accepts them', async () => {
  assert.throws(() => tidy(() => Promise.resolve(1) as unknown as number), /use tidyAsync/);
  const before = liveTensors();
  const r = await tidyAsync(async () => { const t = tensor([1, 2]); await t.data(); return 5; });
  assert.equal(r, 5);
  assert.equal(liveTensors(), before);
});
