import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tensor } from '../../tensor/creation.js';
import { cast } from '../../tensor/ops/shape/cast.js';
import type { Tensor } from '../../tensor/tensor.js';
import { readConfig } from '../../io/config/config.js';
import { loadModel } from '../load.js';
import { paramSpecs } from '../params.js';
import { FIXTURES } from './fixtures.js';

/**
 * A fixture loaded with its projection matrices in 16 bits against the same fixture in float32 with those matrices
 * rounded the same way: the dtypes are as asked, and the logits agree (the products widen the same values).
 * Shared by the CPU test (load.test.ts) and the WebGPU one (matrices16.gpu.test.ts).
 */
export async function checkMatrices16(fixture: string, dtype: 'float16' | 'bfloat16'): Promise<void> {
  const dir = join(FIXTURES, fixture);
  const specs = paramSpecs(readConfig(dir));
  const half = await loadModel(dir, { matrices: dtype });
  const full = await loadModel(dir);
  const params = full.params as Map<string, Tensor>;
  try {
    for (const s of specs) assert.equal(half.params.get(s.name)!.dtype, s.matrix ? dtype : 'float32', s.name);
    assert.ok(specs.some((s) => s.matrix), 'the fixture has projection matrices');
    for (const s of specs.filter((x) => x.matrix)) {
      const narrow = cast(params.get(s.name)!, dtype);
      params.get(s.name)!.dispose();
      params.set(s.name, cast(narrow, 'float32'));
      narrow.dispose();
    }
    const ids = tensor(Int32Array.from([3, 17, 5, 9, 2, 11, 4, 8]), [2, 4]);
    const got = half.forward(ids), want = full.forward(ids);
    const [g, w] = [await got.data(), await want.data()];
    let worst = 0;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - w[i]!));
    assert.ok(worst <= 1e-5, `${fixture} with ${dtype} matrices: largest logit difference ${worst}`);
    ids.dispose(); got.dispose(); want.dispose();
  } finally {
    half.dispose(); full.dispose();
  }
}
