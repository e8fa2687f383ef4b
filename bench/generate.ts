/**
 * Generation benchmark: a Mamba run that carries its recurrent state from token to token (the default) beside one
 * that recomputes the whole sequence at every step, on the same random-weight model, prompts and seed.
 *
 *   node dist/bench/generate.js [--preset small|mamba-130m|mamba-2.8b] [--batch 4] [--prompt 8] [--new 32] [--backend cpu|webgpu]
 *
 * Both produce the same tokens (checked here too); the entry gives the median time of 3 runs of each, after a
 * warm-up. Figures go to bench/results/generate-<date>T<hhmm>-<preset>.json, bench/results/generate.md and
 * docs/performance.md.
 */
import { loadavg } from 'node:os';
import { Command } from 'commander';
import { benchContext, writeBenchRecord } from './context.js';
import { parseConfig, type MambaConfig } from '../src/io/config/config.js';
import { randomModel } from '../src/models/random.js';
import { useBackend } from '../src/tensor/backends/by-name.js';
import { tensor } from '../src/tensor/creation.js';
import { Rng } from '../src/tensor/random.js';
import { generate } from '../src/interventions/generate.js';

const PRESETS: Record<string, Record<string, unknown>> = {
  small: { model_type: 'mamba', hidden_size: 128, num_hidden_layers: 16, vocab_size: 50280, state_size: 16, tie_word_embeddings: false },
  'mamba-130m': { model_type: 'mamba', hidden_size: 768, num_hidden_layers: 24, vocab_size: 50280, state_size: 16 },
  'mamba-2.8b': { model_type: 'mamba', hidden_size: 2560, num_hidden_layers: 64, vocab_size: 50280, state_size: 16, tie_word_embeddings: false },
};

interface Opts { preset: string; batch: number; prompt: number; new: number; backend: string }

async function main(o: Opts): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const preset = PRESETS[o.preset];
  if (!preset) throw new Error(`unknown preset ${o.preset}`);
  await useBackend(o.backend, '--backend');
  const config = parseConfig(preset, o.preset) as MambaConfig;
  const model = randomModel(config, 0);
  const rng = new Rng(2);
  const ids = tensor(Int32Array.from({ length: o.batch * o.prompt }, () => 1 + rng.int(config.vocabSize - 1)), [o.batch, o.prompt]);
  const time = async (recompute: boolean) => {
    const opts = { maxNewTokens: o.new, topK: 5, seed: 1, recompute };
    const tokens = await generate(model, ids, opts);
    const ms: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await generate(model, ids, opts);
      ms.push(performance.now() - t0);
    }
    return { ms: ms.sort((a, b) => a - b)[1]!, tokens };
  };
  const carried = await time(false), recomputed = await time(true);
  const same = JSON.stringify(carried.tokens) === JSON.stringify(recomputed.tokens);
  ids.dispose(); model.dispose();
  const { date, commit, machine, command } = benchContext(loadAtStart);
  const md = [
    `### ${date.slice(0, 16).replace('T', ' ')} UTC — ${o.preset} (${config.nLayer} layers, width ${config.dModel}), ${o.batch} prompts of ${o.prompt} tokens, ${o.new} new tokens (top-5 sampling); backend ${o.backend}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverage.start.toFixed(2)} at start, ${machine.loadAverage.end.toFixed(2)} at end; commit ${commit}`,
    '',
    `Command: \`${command}\` — median of 3 runs after a warm-up.`,
    '',
    '| generation | time | per new token | speed-up |',
    '|---|---|---|---|',
    `| recomputing the whole sequence at every step | ${(recomputed.ms / 1000).toFixed(2)} s | ${(recomputed.ms / o.new).toFixed(1)} ms | 1× |`,
    `| carrying the recurrent state (default) | ${(carried.ms / 1000).toFixed(2)} s | ${(carried.ms / o.new).toFixed(1)} ms | ${(recomputed.ms / carried.ms).toFixed(2)}× |`,
    '',
    same ? 'Both gave the same tokens.' : 'THE TOKENS DIFFER between the two.',
    '',
  ].join('\n');
  writeBenchRecord('generate', o.preset, date, { date, command, commit, machine, preset: o.preset, config, batch: o.batch, prompt: o.prompt, newTokens: o.new, backend: o.backend, carriedMs: carried.ms, recomputedMs: recomputed.ms, sameTokens: same }, md);
}

await new Command('generate-bench')
  .option('--preset <name>', Object.keys(PRESETS).join(' or '), 'small')
  .option('--batch <n>', 'prompts', (v) => Number(v), 4)
  .option('--prompt <n>', 'prompt tokens', (v) => Number(v), 8)
  .option('--new <n>', 'new tokens per prompt', (v) => Number(v), 32)
  .option('--backend <name>', 'cpu or webgpu', 'cpu')
  .action((o: Opts) => main(o))
  .parseAsync();
