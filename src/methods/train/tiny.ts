import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../io/config/config.js';
import { loadModel } from '../../models/load.js';
import { randomModel } from '../../models/random.js';
import { saveModel } from '../../models/save.js';
import type { LanguageModel } from '../../models/model.js';
import { hash32 } from '../data/cache.js';
import { SyntheticWorld } from './synthetic.js';
import { evaluateLoss, trainLanguageModel, type TrainOptions } from './train.js';

export type TinyModelKind = 'mamba' | 'gptneox';

export interface TinyModelOptions {
  subjects?: number;
  seed?: number;
  train?: Partial<TrainOptions>;
  /** Trained models are saved here by a hash of their recipe and loaded instead of retrained (default: a temp folder). */
  cacheDir?: string | null;
}

function config(kind: TinyModelKind, vocab: number) {
  // Vocabulary rounded up to a multiple of 8, as real checkpoints pad it.
  const V = Math.ceil(vocab / 8) * 8;
  return kind === 'mamba'
    ? parseConfig({ model_type: 'mamba', hidden_size: 48, num_hidden_layers: 4, vocab_size: V, state_size: 8, expand: 2, conv_kernel: 4 }, 'tiny trained mamba')
    : parseConfig({ model_type: 'gpt_neox', hidden_size: 48, num_hidden_layers: 4, num_attention_heads: 4, intermediate_size: 192, vocab_size: V, rotary_pct: 0.5, use_parallel_residual: true, tie_word_embeddings: false }, 'tiny trained gpt-neox');
}

/**
 * A tiny Mamba or GPT-NeoX trained on the synthetic world's fact statements, on the CPU in well under a minute:
 * the model organism that ROME's tests edit. The recipe is deterministic, and its result is kept on disk by a hash
 * of the recipe, so test files that need the same model train it once. The folder it is saved in is a complete
 * model directory (config.json, model.safetensors, tokenizer.json) that the CLI can load.
 */
export async function trainedTinyModel(kind: TinyModelKind, o: TinyModelOptions = {}): Promise<{ model: LanguageModel; world: SyntheticWorld; dir: string | null; loss: number }> {
  const world = new SyntheticWorld(o.subjects ?? 24, o.seed ?? 0);
  const cfg = config(kind, world.tokenizer.vocabSize);
  const train: TrainOptions = { steps: 500, batchSize: 16, seqLen: 24, lr: 4e-3, warmupSteps: 30, weightDecay: 0.3, clipNorm: 1, seed: o.seed ?? 0, ...o.train };
  const recipe = JSON.stringify({ v: 1, kind, cfg, vocab: hash32(JSON.stringify(world.tokenizerJson)), subjects: world.subjects.length, seed: o.seed ?? 0, train: { ...train, onStep: undefined } });
  const root = o.cacheDir === undefined ? join(tmpdir(), 'factlab-tiny-models') : o.cacheDir;
  const dir = root === null ? null : join(root, `${kind}-${hash32(recipe).toString(16)}`);
  const heldOut = world.stream(64, 999).tokens;
  if (dir && existsSync(join(dir, 'config.json'))) {
    const model = await loadModel(dir);
    return { model, world, dir, loss: await evaluateLoss(model, heldOut, 23) };
  }
  const model = randomModel(cfg, o.seed ?? 0);
  await trainLanguageModel(model, world.stream(4000, (o.seed ?? 0) + 1), train);
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(world.tokenizerJson));
    writeFileSync(join(dir, 'recipe.json'), recipe);
    await saveModel(model, dir);
  }
  return { model, world, dir, loss: await evaluateLoss(model, heldOut, 23) };
}
