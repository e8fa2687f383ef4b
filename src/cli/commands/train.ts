import type { Command } from 'commander';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { useBackend } from '../../tensor/backends/by-name.js';
import { threadCount } from '../../tensor/backends/cpu/wasm.js';
import { WebGPUBackend } from '../../tensor/backends/webgpu/webgpu-backend.js';
import { ARCHS, isPreset, PRESETS, type Arch } from '../../methods/train/presets.js';
import { runTraining } from '../../methods/train/run.js';
import { readPreparedData } from '../../methods/organisms/data-dir.js';
import { buildMix, exposures } from '../../methods/organisms/mix.js';
import { progressBar } from '../../methods/rome/progress.js';
import { emit } from '../output.js';
import { floatArg, intArg } from '../options.js';

interface Opts {
  arch: string; preset: string; data: string; out: string; factShare: number; mixSeed: number;
  steps: number; batchSize: number; seqLen: number; lr: number; warmup: number; minLrRatio: number; weightDecay: number; clip: number; seed: number;
  backend: string; checkpointEvery: number; maxMinutes?: number; stopAfter?: number; resume?: boolean; json?: boolean;
}

export function registerTrain(program: Command): void {
  program.command('train')
    .description('train a Mamba or GPT-NeoX language model from scratch on a prepared data folder (factlab prepare-data); resumable')
    .requiredOption('-a, --arch <arch>', `architecture: ${ARCHS.join(' or ')}`)
    .option('--preset <name>', `size: ${Object.keys(PRESETS).join(', ')}`, 'organism')
    .requiredOption('-d, --data <dir>', 'prepared data folder (factlab prepare-data); its tokenizer.json is the model\'s')
    .requiredOption('-o, --out <dir>', 'run folder: checkpoint.safetensors, train-log.jsonl, run.json, and model/ when finished')
    .option('--fact-share <x>', 'share of training tokens that are fact statements', floatArg('--fact-share'), 0.5)
    .option('--mix-seed <n>', 'seed of the order of documents in the training stream', intArg('--mix-seed'), 0)
    .option('--steps <n>', 'optimizer steps', intArg('--steps', 1), 2000)
    .option('--batch-size <n>', 'windows per step', intArg('--batch-size', 1), 64)
    .option('--seq-len <n>', 'tokens predicted per window', intArg('--seq-len', 1), 128)
    .option('--lr <x>', 'peak learning rate', floatArg('--lr'), 2e-3)
    .option('--warmup <n>', 'linear warm-up steps', intArg('--warmup'), 100)
    .option('--min-lr-ratio <x>', 'the cosine ends at this fraction of the peak', floatArg('--min-lr-ratio', false), 0.1)
    .option('--weight-decay <x>', 'decoupled weight decay on matrices', floatArg('--weight-decay', false), 0.1)
    .option('--clip <x>', 'global gradient-norm clipping', floatArg('--clip'), 1)
    .option('--seed <n>', 'seed of the initial weights and of the window sampling', intArg('--seed'), 0)
    .option('--backend <name>', 'cpu or webgpu', 'cpu')
    .option('--checkpoint-every <n>', 'steps between checkpoints', intArg('--checkpoint-every', 1), 200)
    .option('--max-minutes <m>', 'checkpoint and stop before this many minutes (then continue with --resume)', floatArg('--max-minutes'))
    .option('--stop-after <n>', 'checkpoint and stop after this many steps in this call', intArg('--stop-after', 1))
    .option('--resume', 'continue the run in --out from its checkpoint (exactly where it stopped)')
    .option('--json', 'machine-readable output')
    .action(async (o: Opts) => {
      if (!ARCHS.includes(o.arch as Arch)) throw new FactlabError(`--arch must be ${ARCHS.join(' or ')}, got "${o.arch}"`);
      if (!isPreset(o.preset)) throw new FactlabError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got "${o.preset}"`);
      if (o.warmup > o.steps) throw new FactlabError(`--warmup ${o.warmup} is more than --steps ${o.steps}`);
      const be = await useBackend(o.backend, '--backend');
      const device = be instanceof WebGPUBackend ? be.description : `CPU (${cpus()[0]?.model ?? 'unknown'}, ${threadCount()} threads)`;
      const data = readPreparedData(o.data);
      const { training, plan } = buildMix(data, { factShare: o.factShare, seed: o.mixSeed });
      const planned = exposures(plan, o.steps * o.batchSize * o.seqLen);
      process.stderr.write(`factlab train: ${o.arch} ${o.preset} on ${device}; stream of ${(plan.streamTokens / 1e6).toFixed(1)}M tokens (${(plan.wikiTokens / 1e6).toFixed(1)}M Wikipedia, ${(plan.factTokens / 1e6).toFixed(1)}M facts); `
        + `${o.steps} steps of ${o.batchSize}×${o.seqLen} = ${((o.steps * o.batchSize * o.seqLen) / 1e6).toFixed(1)}M tokens: ${planned.passes.toFixed(2)} passes, each fact seen about ${planned.perFact.toFixed(0)} times\n`);
      const bar = process.stderr.isTTY ? progressBar(`${o.arch} training`) : null;
      let lastLine = performance.now();
      const summary = await runTraining({
        arch: o.arch as Arch, preset: o.preset, vocabSize: data.info.vocabSize, tokenizerFile: join(o.data, 'tokenizer.json'),
        data: training, out: o.out, device,
        schedule: { steps: o.steps, batchSize: o.batchSize, seqLen: o.seqLen, lr: o.lr, warmupSteps: o.warmup, minLrRatio: o.minLrRatio, weightDecay: o.weightDecay, clipNorm: o.clip, seed: o.seed },
        checkpointEvery: o.checkpointEvery, maxMinutes: o.maxMinutes, stopAfter: o.stopAfter, resume: o.resume,
        onProgress: (r, done) => {
          bar?.update(done, o.steps);
          // Without a terminal (logs, the GPU machine) a line every half minute says where the run is.
          if (!bar && performance.now() - lastLine > 30_000) {
            lastLine = performance.now();
            process.stderr.write(`step ${done}/${o.steps} loss ${r.loss.toFixed(3)} lr ${r.lr.toExponential(2)} grad norm ${r.gradNorm.toFixed(2)}\n`);
          }
        },
      });
      bar?.stop();
      emit(!!o.json, summary, () => summary.finished
        ? `finished ${summary.stepsDone} steps (${(summary.tokensSeen / 1e6).toFixed(1)}M tokens) in ${(summary.trainingSeconds / 60).toFixed(1)} min; final loss ${summary.finalLoss?.toFixed(3)}; model in ${summary.modelDir}`
        : `stopped at step ${summary.stepsDone} of ${summary.steps} (checkpoint in ${o.out}); continue with the same command and --resume`);
    });
}
