import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { getBackend } from '../../tensor/backends/current.js';
import { configToJson } from '../../io/config/config.js';
import { buildModel } from '../../models/build.js';
import { trainingInit } from './init.js';
import { saveModel } from '../../models/save.js';
import { paramSpecs } from '../../models/params.js';
import type { LanguageModel } from '../../models/model.js';
import { loadTrainCheckpoint, saveTrainCheckpoint } from './checkpoint.js';
import { parameterCount, presetConfig, type Arch } from './presets.js';
import { trainLanguageModel, type StepReport, type TokenStream, type TrainOptions } from './train.js';

/** Training data with a name that identifies it exactly (resuming checks it). */
export interface TrainingData {
  stream: TokenStream;
  /** Changes whenever the tokens or their order change. */
  fingerprint: string;
}

export type RunSchedule = Pick<TrainOptions, 'steps' | 'batchSize' | 'seqLen' | 'lr' | 'warmupSteps' | 'minLrRatio' | 'weightDecay' | 'clipNorm' | 'seed'>;

export interface TrainRunOptions {
  arch: Arch;
  preset: string;
  vocabSize: number;
  /** tokenizer.json, copied into the finished model directory. */
  tokenizerFile: string;
  data: TrainingData;
  schedule: RunSchedule;
  /** The run directory: checkpoint.safetensors, train-log.jsonl, run.json, and model/ when finished. */
  out: string;
  checkpointEvery?: number;
  /** Stop (after a checkpoint) before this many minutes have passed, to be resumed. */
  maxMinutes?: number;
  resume?: boolean;
  /** Run at most this many steps in this call (then checkpoint and stop, to be resumed). */
  stopAfter?: number;
  onProgress?: (report: StepReport, stepsDone: number) => void;
  /** The machine, in words, recorded in run.json (for model cards). */
  device?: string;
}

export interface RunSummary {
  arch: Arch;
  preset: string;
  parameters: number;
  stepsDone: number;
  steps: number;
  finished: boolean;
  tokensSeen: number;
  /** Seconds spent training over all pieces of the run. */
  trainingSeconds: number;
  /** Mean loss over the last 50 logged steps. */
  finalLoss: number | null;
  backend: string;
  device: string;
  modelDir: string | null;
}

const CHECKPOINT = 'checkpoint.safetensors';
const LOG = 'train-log.jsonl';
const RUN = 'run.json';

function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 1)}\n`);
  renameSync(tmp, path);
}

/** Log lines of steps before `step` (a resumed run repeats the steps after its checkpoint and logs them anew). */
function truncateLog(path: string, step: number): { loss: number; step: number }[] {
  if (!existsSync(path)) return [];
  const kept = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { step: number; loss: number }).filter((r) => r.step < step);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, kept.map((r) => JSON.stringify(r)).join('\n') + (kept.length ? '\n' : ''));
  renameSync(tmp, path);
  return kept;
}

/** The fields of two recipes that differ, for the error that refuses a resume. */
function differences(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

/**
 * A training run that survives interruption: checkpoints (parameters, AdamW moments, step, data order) every
 * `checkpointEvery` steps and before a `maxMinutes` deadline; `resume` continues from the last one exactly, and
 * refuses when the recipe (model, data, schedule) differs. Losses go to train-log.jsonl, one JSON line per step.
 * When the last step is done the model is written to out/model as a Hugging Face directory (float32).
 */
export async function runTraining(o: TrainRunOptions): Promise<RunSummary> {
  const t0 = performance.now();
  const config = presetConfig(o.arch, o.preset, o.vocabSize);
  const recipe: Record<string, unknown> = { arch: o.arch, preset: o.preset, config: configToJson(config), data: o.data.fingerprint, schedule: o.schedule };
  const ckptPath = join(o.out, CHECKPOINT), logPath = join(o.out, LOG), runPath = join(o.out, RUN);
  if (existsSync(o.out) && !o.resume && (existsSync(ckptPath) || existsSync(logPath))) {
    throw new FactlabError(`${o.out}: already holds a training run; pass --resume to continue it, or choose another --out`);
  }
  mkdirSync(o.out, { recursive: true });
  const names = paramSpecs(config).map((s) => s.name);
  let model: LanguageModel;
  let resume: TrainOptions['resume'];
  let previousSeconds = 0;
  let logged: { loss: number; step: number }[] = [];
  if (o.resume && existsSync(ckptPath)) {
    const ck = await loadTrainCheckpoint(ckptPath, names, getBackend());
    const diff = differences(ck.meta.recipe, recipe);
    if (diff.length) {
      for (const t of [...ck.params.values(), ...ck.m, ...ck.v]) t.dispose();
      throw new FactlabError(`${ckptPath}: cannot resume: the run was started with another ${diff.join(', ')} (compare ${runPath} with this command's options)`);
    }
    model = buildModel(config, ck.params);
    resume = { step: ck.meta.step, rng: ck.meta.rng, adamT: ck.meta.adamT, m: ck.m, v: ck.v };
    logged = truncateLog(logPath, ck.meta.step);
    if (existsSync(runPath)) previousSeconds = (JSON.parse(readFileSync(runPath, 'utf8')) as { trainingSeconds?: number }).trainingSeconds ?? 0;
  } else {
    if (existsSync(logPath)) rmSync(logPath);
    model = trainingInit(config, o.schedule.seed ?? 0);
  }

  const summary = (stepsDone: number, finished: boolean, modelDir: string | null): RunSummary => {
    const tail = logged.slice(-50);
    return {
      arch: o.arch, preset: o.preset, parameters: parameterCount(config), stepsDone, steps: o.schedule.steps, finished,
      tokensSeen: stepsDone * o.schedule.batchSize * o.schedule.seqLen,
      trainingSeconds: previousSeconds + (performance.now() - t0) / 1000,
      finalLoss: tail.length ? tail.reduce((a, r) => a + r.loss, 0) / tail.length : null,
      backend: getBackend().name, device: o.device ?? getBackend().name, modelDir,
    };
  };
  const writeRun = (s: RunSummary) => writeJsonAtomic(runPath, { ...s, recipe, updated: new Date().toISOString() });

  let stepSeconds = 0, lastStepAt = performance.now();
  const deadline = o.maxMinutes === undefined ? Infinity : t0 + o.maxMinutes * 60_000;
  try {
    const result = await trainLanguageModel(model, o.data.stream, {
      ...o.schedule,
      resume,
      checkpointEvery: o.checkpointEvery,
      onStep: (step, loss, lr, report) => {
        const seconds = +(previousSeconds + (performance.now() - t0) / 1000).toFixed(2);
        appendFileSync(logPath, `${JSON.stringify({ step, loss: +loss.toFixed(5), lr: +lr.toPrecision(6), gradNorm: Number.isNaN(report.gradNorm) ? null : +report.gradNorm.toFixed(4), seconds })}\n`);
        logged.push({ step, loss });
        o.onProgress?.(report, step + 1);
      },
      onCheckpoint: async (state) => {
        await saveTrainCheckpoint(ckptPath, model, state, recipe);
        writeRun(summary(state.step, false, null));
      },
      // Stop while there is still time for two more steps and writing a checkpoint (about a second per 10M parameters).
      shouldStop: (stepsDone) => {
        if (o.stopAfter !== undefined && stepsDone >= (resume?.step ?? 0) + o.stopAfter) return true;
        const now = performance.now();
        stepSeconds = Math.max(stepSeconds * 0.9, (now - lastStepAt) / 1000);
        lastStepAt = now;
        return now + 1000 * (2 * stepSeconds + 10) > deadline;
      },
    });
    if (result.stopped) {
      const s = summary(result.stepsDone, false, null);
      writeRun(s);
      return s;
    }
    const dir = join(o.out, 'model');
    await saveModel(model, dir);
    copyFileSync(o.tokenizerFile, join(dir, 'tokenizer.json'));
    chmodSync(join(dir, 'tokenizer.json'), 0o644);
    const s = summary(result.stepsDone, true, dir);
    writeRun(s);
    return s;
  } finally {
    model.dispose();
  }
}
