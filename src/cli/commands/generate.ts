import type { Command } from 'commander';
import { loadPretrained } from '../../models/load.js';
import { generate } from '../../interventions/generate.js';
import { tensor } from '../../tensor/creation.js';
import { FactlabError } from '../../tensor/errors.js';
import { emit } from '../output.js';
import { floatArg, intArg, MODEL_HELP, resolveModel } from '../options.js';

interface Opts { model: string; prompt: string; maxNewTokens: number; topK: number; temperature: number; seed: number; json?: boolean }

export function registerGenerate(program: Command): void {
  program.command('generate')
    .description('continue a prompt (greedy by default, or top-k sampling)')
    .option('-m, --model <dir>', MODEL_HELP)
    .requiredOption('-p, --prompt <text>', 'the text to continue')
    .option('-n, --max-new-tokens <n>', 'tokens to generate', intArg('--max-new-tokens'), 20)
    .option('-k, --top-k <k>', '1 = greedy; k > 1 samples among the k most likely tokens', intArg('--top-k', 1), 1)
    .option('-t, --temperature <t>', 'softmax temperature for sampling', floatArg('--temperature'), 1)
    .option('-s, --seed <seed>', 'random seed for sampling', intArg('--seed'), 0)
    .option('--json', 'machine-readable output')
    .action(async (o: Opts) => {
      o.model = resolveModel(o.model);
      const { model, tokenizer } = await loadPretrained(o.model);
      const { ids } = tokenizer.encode(o.prompt);
      if (ids.length === 0) throw new FactlabError('--prompt: the prompt has no tokens');
      const input = tensor(Int32Array.from(ids), [1, ids.length]);
      const [gen] = await generate(model, input, { maxNewTokens: o.maxNewTokens, topK: o.topK, temperature: o.temperature, seed: o.seed, eosId: tokenizer.eosId ?? undefined });
      const completion = tokenizer.decode(gen!);
      emit(!!o.json, { prompt: o.prompt, completion, promptIds: ids, newIds: gen }, () => o.prompt + completion);
      input.dispose();
      model.dispose();
    });
}
