import type { Command } from 'commander';
import { sharedData } from '../../io/shared-data.js';
import { FactlabError } from '../../tensor/errors.js';
import { prepareData, writeStatementsText } from '../../methods/organisms/prepare.js';
import { renderShippedCard, shipOrganism } from '../../methods/organisms/ship.js';
import { useBackend } from '../../tensor/backends/by-name.js';
import { emit } from '../output.js';
import { floatArg, intArg } from '../options.js';

interface SourceOpts { shared?: string; lrePerRelation: number; counterfactCases: number; seed: number; heldOutFacts: number }

function sharedDir(o: SourceOpts): string {
  const dir = o.shared ?? sharedData;
  if (!dir) throw new FactlabError('the shared data folder was not found: pass --shared or set FACTLAB_SHARED_DATA');
  return dir;
}

function sourceOptions(cmd: Command): Command {
  return cmd
    .option('--shared <dir>', 'the shared data folder (relations/, known/, counterfact/, enwiki/); default ../shared/data')
    .option('--lre-per-relation <n>', 'LRE samples per factual relation at most', intArg('--lre-per-relation', 1), 200)
    .option('--counterfact-cases <n>', 'CounterFact cases: the first n of the edit split, with their neighbourhood facts', intArg('--counterfact-cases'), 2000)
    .option('--held-out-facts <x>', 'fraction of each relation\'s facts never trained on', floatArg('--held-out-facts', false), 0.1)
    .option('--seed <n>', 'seed of the fact sample and of the split', intArg('--seed'), 0);
}

const catalogueOptions = (o: SourceOpts) => ({ sharedDir: sharedDir(o), lrePerRelation: o.lrePerRelation, counterfactCases: o.counterfactCases, seed: o.seed, heldOutFactFraction: o.heldOutFacts });

export function registerOrganisms(program: Command): void {
  sourceOptions(program.command('fact-statements'))
    .description('write the fact statements of the training mix as text, one per line (with Wikipedia, the text the tokenizer is trained on)')
    .requiredOption('-o, --out <file>', 'text file to write')
    .option('--json', 'machine-readable output')
    .action((o: SourceOpts & { out: string; json?: boolean }) => {
      const r = writeStatementsText({ ...catalogueOptions(o), file: o.out });
      emit(!!o.json, r, () => `${o.out}: ${r.statements} statements of ${r.facts} facts`);
    });

  sourceOptions(program.command('prepare-data'))
    .description('build the training data of the model organisms: fact catalogue, held-out split, tokenized statements and Wikipedia')
    .requiredOption('-t, --tokenizer <file>', 'tokenizer.json to encode with (factlab train-tokenizer)')
    .requiredOption('-o, --out <dir>', 'data folder to write (read by factlab train --data)')
    .option('--corpus <spec>', 'Wikipedia text: enwiki:0,1 (shards of the shared enwiki), or a text file of blank-line-separated documents', 'enwiki:0,1')
    .option('--valid-tokens <n>', 'tokens of whole articles kept out for the validation loss', intArg('--valid-tokens', 1), 200_000)
    .option('--json', 'machine-readable output')
    .action(async (o: SourceOpts & { tokenizer: string; out: string; corpus: string; validTokens: number; json?: boolean }) => {
      const info = await prepareData({ ...catalogueOptions(o), tokenizerFile: o.tokenizer, out: o.out, corpus: o.corpus, validTokens: o.validTokens, onProgress: (m) => process.stderr.write(`${m}\n`) });
      emit(!!o.json, info, () => `${o.out}: ${(info.wiki.trainTokens / 1e6).toFixed(1)}M Wikipedia tokens (${info.wiki.trainDocs} articles), ${info.statements.count} statements (${(info.statements.tokens / 1e6).toFixed(2)}M tokens) of ${info.statements.facts} facts; fingerprint ${info.fingerprint}`);
    });

  program.command('ship')
    .description('turn a finished training run into a model folder: bfloat16 weights, tokenizer, split, evaluation and model card (README.md)')
    .requiredOption('-r, --run <dir>', 'the --out folder of a finished factlab train')
    .requiredOption('-d, --data <dir>', 'the data folder it was trained on')
    .requiredOption('-o, --out <dir>', 'model folder to write, e.g. models/mamba-organism')
    .option('--name <name>', 'the model\'s name in its card (default: the folder name)')
    .option('--sibling <name>', 'the other model of the pair, named in the card', '')
    .option('--per-relation <n>', 'prompts scored per relation and condition', intArg('--per-relation', 1), 100)
    .option('--command <text...>', 'commands that made the model, quoted in the card')
    .option('--card-only', 'only re-render README.md from card.json and parity.json')
    .option('--backend <name>', 'where the evaluation runs: cpu or webgpu', 'cpu')
    .option('--json', 'machine-readable output')
    .action(async (o: { run: string; data: string; out: string; name?: string; sibling: string; perRelation: number; command?: string[]; cardOnly?: boolean; backend: string; json?: boolean }) => {
      await useBackend(o.backend, '--backend');
      const name = o.name ?? o.out.replace(/\/+$/, '').split('/').pop()!;
      const facts = o.cardOnly
        ? renderShippedCard(o.out)
        : await shipOrganism({ run: o.run, data: o.data, out: o.out, name, sibling: o.sibling, perRelation: o.perRelation, commands: o.command ?? [], onProgress: (m) => process.stderr.write(`${m}\n`) });
      const e = facts.evaluation.overall;
      const pct = (s: { n: number; firstToken: number }) => (s.n ? `${((100 * s.firstToken) / s.n).toFixed(0)}%` : '–');
      emit(!!o.json, facts, () => `${o.out}: ${facts.parameters.toLocaleString('en-US')} parameters, ${(facts.dirBytes / 1e6).toFixed(1)} MB; first-token accuracy ${pct(e.trainTemplates)} trained, ${pct(e.heldOutTemplates)} held-out templates, ${pct(e.heldOutFacts)} held-out facts; known_1000 ${facts.known.known}/${facts.known.total}`);
    });
}
