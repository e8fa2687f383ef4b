import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../tensor/random.js';
import { liveTensors } from '../../tensor/lifetime.js';
import { runTraining, type TrainRunOptions } from './run.js';

const rng = new Rng(7);
// A stream with structure to learn (each token mostly follows from the one before), so the loss moves.
const tokens = new Int32Array(4000);
for (let i = 1; i < tokens.length; i++) tokens[i] = rng.uniform() < 0.8 ? (tokens[i - 1]! * 7 + 3) % 61 : rng.int(61);

function options(out: string, arch: 'mamba' | 'gptneox'): TrainRunOptions {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-tok-'));
  writeFileSync(join(dir, 'tokenizer.json'), '{}');
  return {
    arch, preset: 'tiny', vocabSize: 61, tokenizerFile: join(dir, 'tokenizer.json'), out,
    data: { stream: { tokens }, fingerprint: 'test-stream' },
    schedule: { steps: 12, batchSize: 4, seqLen: 16, lr: 3e-3, warmupSteps: 3, clipNorm: 0.5, seed: 3 },
    checkpointEvery: 4,
  };
}

for (const arch of ['mamba', 'gptneox'] as const) {
  test(`${arch}: 5 steps, a resume, 7 more give the parameters of 12 steps in one go, bit for bit`, async () => {
    const before = liveTensors();
    const root = mkdtempSync(join(tmpdir(), 'factlab-resume-'));
    const straight = await runTraining(options(join(root, 'straight'), arch));
    assert.equal(straight.finished, true);
    const piece = await runTraining({ ...options(join(root, 'pieces'), arch), stopAfter: 5 });
    assert.deepEqual([piece.finished, piece.stepsDone], [false, 5]);
    await assert.rejects(runTraining(options(join(root, 'pieces'), arch)), /already holds a training run; pass --resume/);
    await assert.rejects(runTraining({ ...options(join(root, 'pieces'), arch), resume: true, schedule: { ...options('', arch).schedule, lr: 1e-3 } }), /cannot resume: the run was started with another schedule/);
    const rest = await runTraining({ ...options(join(root, 'pieces'), arch), resume: true });
    assert.deepEqual([rest.finished, rest.stepsDone, rest.tokensSeen], [true, 12, 12 * 4 * 16]);
    const a = readFileSync(join(root, 'straight', 'model', 'model.safetensors'));
    const b = readFileSync(join(root, 'pieces', 'model', 'model.safetensors'));
    assert.ok(a.equals(b), 'the resumed run ends with other parameters');
    // Everything but the wall-clock seconds.
    const log = (d: string) => readFileSync(join(root, d, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => { const { seconds, ...r } = JSON.parse(l) as { step: number; loss: number; seconds: number }; assert.ok(seconds >= 0); return r; });
    assert.deepEqual(log('pieces'), log('straight'));
    assert.deepEqual(log('straight').map((r) => r.step), [...Array(12).keys()]);
    assert.ok(log('straight')[11]!.loss < log('straight')[0]!.loss, 'the loss fell');
    assert.equal(liveTensors(), before, 'no tensor left behind');
  });
}
