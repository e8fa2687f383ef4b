import type { Command } from 'commander';
import { loadPretrained } from '../../models/load.js';
import { saveModel } from '../../models/save.js';
import { tensor } from '../../tensor/creation.js';
import { FactlabError } from '../../tensor/errors.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { generate } from '../../interventions/generate.js';
import { scoreTargets } from '../../methods/evaluation/counterfact.js';
import { RomeEditor } from '../../methods/rome/editor.js';
import { fillPrompt, decodeGenerated } from '../../methods/rome/prompts.js';
import type { RomeMatrix } from '../../methods/rome/hparams.js';
import { emit, table } from '../output.js';
import { intArg, MODEL_HELP, resolveModel } from '../options.js';
import { addStatsOptions, editorOptions, hparamOverrides, type StatsCliOptions } from './rome-options.js';

interface Opts extends StatsCliOptions {
  model: string; prompt: string; subject: string; target: string; true?: string; layer?: number; matrix?: RomeMatrix;
  paraphrase: string[]; neighbour: string[]; newTokens: number; save?: string; json?: boolean;
}

async function greedy(model: LanguageModel, tok: FactTokenizer, prompt: string, n: number): Promise<string> {
  const ids = tok.encode(prompt).ids;
  const input = tensor(Int32Array.from(ids), [1, ids.length]);
  const [out] = await generate(model, input, { maxNewTokens: n, eosId: tok.eosId ?? undefined });
  input.dispose();
  return decodeGenerated(tok, out!);
}

/** p(object) after each prompt, as exp(−mean NLL over the object's tokens). */
async function probs(model: LanguageModel, tok: FactTokenizer, prompts: string[], object: string): Promise<number[]> {
  return (await scoreTargets(model, tok, prompts.map((prefix) => ({ prefix, target: object })))).map((s) => Math.exp(-s.nll));
}

export function registerEdit(program: Command): void {
  addStatsOptions(program.command('edit')
    .description('rewrite one fact with ROME: generations and probabilities before and after, optionally saving the edited model')
    .option('-m, --model <dir>', MODEL_HELP)
    .requiredOption('-p, --prompt <text>', 'the prompt, with {} for the subject (or containing it): "{} is located in"')
    .requiredOption('-s, --subject <text>', 'the subject')
    .requiredOption('-t, --target <text>', 'the new object')
    .option('--true <text>', 'the current object, to report its probability too')
    .option('-l, --layer <n>', 'edited layer (default 15 on the 2.8b models, else the same relative depth)', intArg('--layer'))
    .option('--matrix <m>', 'o, a or g (Mamba: out_proj, in_proj x rows, in_proj gate rows); mlp (GPT-NeoX)')
    .option('--paraphrase <text...>', 'more prompts about the subject to check (with {} or the subject)', [])
    .option('--neighbour <text...>', 'prompts about other subjects that should not change', [])
    .option('-n, --new-tokens <n>', 'greedy tokens generated before and after', intArg('--new-tokens'), 20)
    .option('--save <dir>', 'write the edited model (safetensors) with the tokenizer to this directory')
    .option('--json', 'machine-readable output'))
    .action(async (o: Opts) => {
      o.model = resolveModel(o.model);
      if (o.matrix && !['o', 'a', 'g', 'mlp'].includes(o.matrix)) throw new FactlabError(`--matrix must be o, a, g or mlp, got "${o.matrix}"`);
      const { model, tokenizer } = await loadPretrained(o.model);
      const eo = editorOptions(o.model, o, { ...hparamOverrides(o), ...(o.layer !== undefined ? { layer: o.layer } : {}), ...(o.matrix ? { matrix: o.matrix } : {}) });
      const editor = new RomeEditor(model, tokenizer, eo);
      const own = [o.prompt, ...o.paraphrase].map((p) => fillPrompt(p, o.subject).text);
      const all = [...own, ...o.neighbour];
      const measure = async () => ({
        generations: await Promise.all(own.map((p) => greedy(model, tokenizer, p, o.newTokens))),
        pTarget: await probs(model, tokenizer, all, o.target),
        pTrue: o.true ? await probs(model, tokenizer, all, o.true) : null,
      });
      const before = await measure();
      const t0 = performance.now();
      const e = await editor.edit({ prompt: o.prompt, subject: o.subject, target: o.target });
      const seconds = (performance.now() - t0) / 1000;
      eo.stop();
      const after = await measure();
      if (o.save) await saveModel(model, o.save, { tokenizerFrom: o.model, metadata: { factlab_rome: JSON.stringify({ subject: o.subject, target: o.target, layer: e.hparams.layer, matrix: e.hparams.matrix }) } });
      const last = e.v.steps[e.v.steps.length - 1]!;
      const norm = (a: Float64Array) => Math.hypot(...a);
      const result = {
        request: e.request, layer: e.hparams.layer, matrix: e.hparams.matrix, param: e.target.param, rows: e.target.rows, seconds,
        statsTokens: e.statsTokens, contexts: (await editor.contextTemplates()).length,
        v: { steps: e.v.steps.length, loss: last.loss, meanProb: last.meanProb, deltaNorm: last.deltaNorm, vInitNorm: norm(e.v.vInit) },
        deltaWNorm: norm(e.r) * norm(e.u),
        prompts: all.map((p, i) => ({ prompt: p, kind: i === 0 ? 'rewrite' : i < own.length ? 'paraphrase' : 'neighbour', pTargetBefore: before.pTarget[i], pTargetAfter: after.pTarget[i], pTrueBefore: before.pTrue?.[i] ?? null, pTrueAfter: after.pTrue?.[i] ?? null })),
        generations: own.map((p, i) => ({ prompt: p, before: before.generations[i], after: after.generations[i] })),
        saved: o.save ?? null,
      };
      const f = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x.toFixed(3));
      emit(!!o.json, result, () => [
        `ROME edit of ${e.target.param} rows ${e.target.rows[0]}..${e.target.rows[1] - 1} (layer ${e.hparams.layer}, matrix ${e.hparams.matrix}) in ${seconds.toFixed(1)} s; C from ${e.statsTokens} tokens; ‖ΔW‖ ${result.deltaWNorm.toFixed(3)}`,
        `v*: ${e.v.steps.length} steps, loss ${last.loss.toFixed(3)}, mean p(target) ${last.meanProb.toFixed(3)}, ‖δ‖ ${last.deltaNorm.toFixed(3)} (‖v_init‖ ${result.v.vInitNorm.toFixed(3)})`,
        '',
        table([['prompt', 'kind', `p(${o.target}) before`, 'after', ...(o.true ? [`p(${o.true}) before`, 'after'] : [])],
          ...result.prompts.map((p) => [p.prompt, p.kind, f(p.pTargetBefore), f(p.pTargetAfter), ...(o.true ? [f(p.pTrueBefore), f(p.pTrueAfter)] : [])])]),
        '',
        ...result.generations.flatMap((g) => [`before: ${g.prompt}${g.before}`, `after:  ${g.prompt}${g.after}`]),
        ...(o.save ? [`\nedited model written to ${o.save}`] : []),
      ].join('\n'));
      model.dispose();
    });
}
