import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from './load.js';
import { FIXTURES } from './testing/fixtures.js';
import { FactlabError } from '../tensor/errors.js';
import { liveTensors } from '../tensor/lifetime.js';
import { checkMatrices16 } from './testing/matrices16.js';

function copyFixture(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-load-'));
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  return dir;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
}

const refused = (re: RegExp) => (e: unknown) => e instanceof FactlabError && re.test(e.message);

test('a config that does not match the weights is one error naming the tensors, and nothing is left loaded', async () => {
  const before = liveTensors();
  const fewer = copyFixture('mamba-tiny');
  editConfig(fewer, (c) => { c.num_hidden_layers = 1; });
  await assert.rejects(loadModel(fewer), refused(/the checkpoint has 10 tensor\(s\) that config.json does not describe: backbone.layers.1\./));
  const more = copyFixture('pythia-parallel');
  editConfig(more, (c) => { c.num_hidden_layers = 3; });
  await assert.rejects(loadModel(more), refused(/lacks 12 tensor\(s\) that config.json implies: gpt_neox.layers.2.input_layernorm.weight/));
  const wide = copyFixture('mamba-tiny');
  editConfig(wide, (c) => { c.state_size = 8; });
  await assert.rejects(loadModel(wide), refused(/tensor backbone.layers.0.mixer.x_proj.weight has shape \[36,128\], but config.json implies \[20,128\]/));
  assert.equal(liveTensors(), before);
});

test('missing and unsupported configs are clear errors', async () => {
  await assert.rejects(loadModel(join(tmpdir(), 'no-such-model-dir')), refused(/no config.json/));
  const odd = copyFixture('mamba-tiny');
  editConfig(odd, (c) => { c.model_type = 'llama'; });
  await assert.rejects(loadModel(odd), refused(/config.json: model_type "llama" is not supported/));
  const bad = copyFixture('mamba-tiny');
  writeFileSync(join(bad, 'config.json'), '{"model_type": "mamba",');
  await assert.rejects(loadModel(bad), refused(/config.json: not valid JSON/));
  const broken = copyFixture('mamba-tiny');
  editConfig(broken, (c) => { c.hidden_size = -3; });
  await assert.rejects(loadModel(broken), refused(/field "hidden_size" has an invalid value -3/));
});

for (const [fixture, dtype] of [['mamba-tiny', 'bfloat16'], ['pythia-sequential', 'float16'], ['mamba-dtrank', 'float16']] as const) {
  test(`${fixture} loaded with ${dtype} matrices gives the logits of the same matrices widened`, () => checkMatrices16(fixture, dtype));
}

test('an unknown matrices dtype is one error', async () => {
  await assert.rejects(loadModel(join(FIXTURES, 'mamba-tiny'), { matrices: 'int8' as never }), refused(/loadModel: matrices must be float32, float16 or bfloat16, not 'int8'/));
});

test('FACTLAB_MATRICES gives the default for every load, and a bad value is one error naming it', async () => {
  const was = process.env.FACTLAB_MATRICES;
  try {
    process.env.FACTLAB_MATRICES = 'bfloat16';
    const m = await loadModel(join(FIXTURES, 'mamba-tiny'));
    assert.equal(m.params.get('backbone.layers.0.mixer.in_proj.weight')!.dtype, 'bfloat16');
    assert.equal(m.params.get('backbone.layers.0.mixer.conv1d.weight')!.dtype, 'float32');
    m.dispose();
    const f = await loadModel(join(FIXTURES, 'mamba-tiny'), { matrices: 'float32' });
    assert.equal(f.params.get('backbone.layers.0.mixer.in_proj.weight')!.dtype, 'float32', 'the option wins over the variable');
    f.dispose();
    process.env.FACTLAB_MATRICES = 'fp8';
    await assert.rejects(loadModel(join(FIXTURES, 'mamba-tiny')), refused(/FACTLAB_MATRICES must be float32, float16 or bfloat16, not 'fp8'/));
  } finally {
    if (was === undefined) delete process.env.FACTLAB_MATRICES; else process.env.FACTLAB_MATRICES = was;
  }
});
