import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { cast } from '../../tensor/ops/shape/cast.js';
import type { Tensor } from '../../tensor/tensor.js';
import { configToJson } from '../../io/config/config.js';
import { loadModel, loadPretrained } from '../../models/load.js';
import { saveModel } from '../../models/save.js';
import type { LanguageModel } from '../../models/model.js';
import { predictNext, isKnown } from '../data/known.js';
import { parameterCount } from '../train/presets.js';
import type { RunSummary } from '../train/run.js';
import { renderCard, type CardFacts } from './card.js';
import { readPreparedData } from './data-dir.js';
import { evaluateFacts, streamLoss } from './evaluate.js';
import { buildMix, exposures } from './mix.js';

export interface ShipOptions {
  /** A finished training run (factlab train --out). */
  run: string;
  /** The data folder it was trained on. */
  data: string;
  /** The model folder to write (e.g. models/mamba-organism). */
  out: string;
  name: string;
  sibling: string;
  /** Prompts per relation and condition in the evaluation (default 100). */
  perRelation?: number;
  /** Commands that made the model, quoted in the card. */
  commands: string[];
  onProgress?: (message: string) => void;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

const dirBytes = (dir: string) => readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);

/** Re-renders README.md from card.json and, when present, parity.json (written from the GPU machine's parity run). */
export function renderShippedCard(dir: string): CardFacts {
  const path = join(dir, 'card.json');
  if (!existsSync(path)) throw new FactlabError(`${dir}: no card.json (factlab ship writes it)`);
  const facts = JSON.parse(readFileSync(path, 'utf8')) as CardFacts;
  const parityPath = join(dir, 'parity.json');
  if (existsSync(parityPath)) facts.parity = JSON.parse(readFileSync(parityPath, 'utf8')) as CardFacts['parity'];
  facts.dirBytes = dirBytes(dir);
  writeAtomic(join(dir, 'README.md'), renderCard(facts));
  return facts;
}

/**
 * Turns a finished run into a shipped model folder: bfloat16 weights, config, tokenizer, the split, and a model card
 * written from the run's record and an evaluation of the bfloat16 weights themselves (as users will load them).
 */
export async function shipOrganism(o: ShipOptions): Promise<CardFacts> {
  const say = o.onProgress ?? (() => {});
  const runFile = join(o.run, 'run.json');
  if (!existsSync(runFile)) throw new FactlabError(`${o.run}: no run.json; --run names the --out folder of factlab train`);
  const run = JSON.parse(readFileSync(runFile, 'utf8')) as RunSummary & { recipe: { schedule: Record<string, unknown>; config: Record<string, unknown>; data: string } };
  if (!run.finished || !run.modelDir) throw new FactlabError(`${o.run}: the run has done ${run.stepsDone} of ${run.steps} steps; finish it with factlab train --resume`);
  const data = readPreparedData(o.data);
  const mix = /^([0-9a-f]+)\/mix-([0-9.e-]+)-(\d+)$/.exec(run.recipe.data);
  if (!mix || mix[1] !== data.info.fingerprint) throw new FactlabError(`${o.run}: was trained on data ${run.recipe.data}, but ${o.data} is ${data.info.fingerprint}`);
  const { plan } = buildMix(data, { factShare: Number(mix[2]), seed: Number(mix[3]) });

  mkdirSync(o.out, { recursive: true });
  const trained = await loadModel(join(o.run, 'model'));
  const bf16 = new Map<string, Tensor>([...trained.params].map(([n, p]) => [n, cast(p, 'bfloat16')]));
  await saveModel({ config: trained.config, params: bf16 } as unknown as LanguageModel, o.out, { metadata: { format: 'pt' } });
  for (const t of bf16.values()) t.dispose();
  trained.dispose();
  for (const f of ['tokenizer.json', 'split.json'] as const) {
    copyFileSync(join(o.data, f), join(o.out, f));
    chmodSync(join(o.out, f), 0o644);
  }
  writeAtomic(join(o.out, 'tokenizer_config.json'), `${JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', eos_token: '<|endoftext|>', bos_token: '<|endoftext|>', unk_token: '<|endoftext|>', pad_token: '<|endoftext|>', model_max_length: 2048 }, null, 2)}\n`);

  say('evaluating the bfloat16 weights');
  const { model, tokenizer } = await loadPretrained(o.out);
  try {
    const evaluation = await evaluateFacts(model, tokenizer, data.catalogue, data.split, { perRelation: o.perRelation ?? 100, onProgress: (d, n) => { if (d === n || d % 1280 === 0) say(`facts: ${d}/${n} prompts`); } });
    const validTokens = data.wikiValid.subarray(0, 50_000);
    const wiki = await streamLoss(model, validTokens, run.recipe.schedule.seqLen as number);
    const known = data.catalogue.facts.filter((f) => f.sources.some((s) => s.startsWith('known/')));
    const prompts = known.flatMap((f) => f.prompts.filter((p) => p.prompt.includes(f.subject)).slice(0, 1).map((p) => ({ prompt: p.prompt, object: f.object })));
    const preds = await predictNext(model, tokenizer, prompts.map((p) => p.prompt));
    const facts: CardFacts = {
      name: o.name, arch: run.arch, sibling: o.sibling, preset: run.preset, config: configToJson(model.config), parameters: parameterCount(model.config),
      weightsBytes: statSync(join(o.out, 'model.safetensors')).size, dirBytes: 0,
      schedule: run.recipe.schedule,
      training: { steps: run.stepsDone, tokensSeen: run.tokensSeen, seconds: run.trainingSeconds, finalTrainLoss: run.finalLoss, device: run.device, backend: run.backend, tokensPerSecond: run.tokensSeen / run.trainingSeconds },
      data: data.info, plan, exposures: exposures(plan, run.tokensSeen),
      validLoss: { wiki, wikiTokens: validTokens.length },
      known: { known: preds.filter((p, i) => isKnown(p, prompts[i]!.object)).length, total: prompts.length },
      evaluation, commands: o.commands, created: new Date().toISOString(),
    };
    writeAtomic(join(o.out, 'card.json'), `${JSON.stringify(facts, null, 1)}\n`);
    return renderShippedCard(o.out);
  } finally {
    model.dispose();
  }
}
