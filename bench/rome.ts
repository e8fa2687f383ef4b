/**
 * ROME benchmark: the key statistics over N tokens and one edit (statistics excluded) of a random-weight Mamba's
 * W_o, factlab beside the same algorithm in PyTorch (reference/rome_reference.py: ROME's compute_u/compute_v on
 * mamba-minimal, as romba runs it), in one command:
 *
 *   node dist/bench/rome.js [--preset small|mamba-2.8b] [--tokens 100000] [--backend cpu|webgpu]
 *                           [--python python3] [--device cpu|cuda] [--threads N] [--no-reference]
 *
 * Both sides get the same token ids: the statistics corpus (the first WikiText-103 articles of the shared data, each
 * cut to 2048 tokens, until N tokens), the context templates (sampled once by factlab) and the request. When the
 * weights are small enough to hand over, the reference loads factlab's safetensors and the entry compares u and r.
 * Figures go to bench/results/rome-<date>T<hhmm>-<preset>.json, bench/results/rome.md and docs/performance.md.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { benchContext } from './context.js';
import { parseConfig, type MambaConfig } from '../src/io/config/config.js';
import { loadTokenizer } from '../src/io/tokenizer/index.js';
import { neoxTokenizerPath, sharedPath } from '../src/io/shared-data.js';
import { randomModel } from '../src/models/random.js';
import { saveModel } from '../src/models/save.js';
import { useBackend } from '../src/tensor/backends/by-name.js';
import { textCorpus, wikitextCorpus } from '../src/methods/data/corpus.js';
import { RomeEditor } from '../src/methods/rome/editor.js';
import { editTarget } from '../src/methods/rome/modules.js';
import { secondMoments } from '../src/methods/rome/stats.js';
import { locate, targetIds } from '../src/methods/rome/prompts.js';
import { progressBar } from '../src/methods/rome/progress.js';

// Untied heads, as bench/trace.ts: a tied random head puts p = 1 on one token everywhere.
const PRESETS: Record<string, Record<string, unknown>> = {
  small: { model_type: 'mamba', hidden_size: 128, num_hidden_layers: 16, vocab_size: 50280, state_size: 16, tie_word_embeddings: false },
  'mamba-2.8b': { model_type: 'mamba', hidden_size: 2560, num_hidden_layers: 64, vocab_size: 50280, state_size: 16, tie_word_embeddings: false },
};
const HAND_OVER_LIMIT = 5e8;
const MAX_LENGTH = 2048, BATCH_TOKENS = 4096;
const REQUEST = { prompt: '{} is located in the city of', subject: 'The Eiffel Tower', target: 'Rome' };

interface Opts { preset: string; tokens: number; backend: string; python: string; device: string; threads: number; reference: boolean }


/** The batches secondMoments forms: documents in order while (count + 1)·longest ≤ BATCH_TOKENS. */
function batches(docs: number[][]): number[][][] {
  const out: number[][][] = [];
  let cur: number[][] = [];
  for (const d of docs) {
    const longest = Math.max(d.length, ...cur.map((c) => c.length));
    if (cur.length && (cur.length + 1) * longest > BATCH_TOKENS) { out.push(cur); cur = []; }
    cur.push(d);
  }
  if (cur.length) out.push(cur);
  return out;
}

const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i]! - b[i]!) ** 2; den += b[i]! ** 2; }
  return Math.sqrt(num / den);
};

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const o = new Command('rome-bench')
    .option('--preset <name>', Object.keys(PRESETS).join(' or '), 'small')
    .option('--tokens <n>', 'tokens for the key statistics', (v) => Number(v), 100_000)
    .option('--backend <name>', 'cpu or webgpu', 'cpu')
    .option('--python <path>', 'python with torch, for the reference', process.env.FACTLAB_PYTHON ?? 'python3')
    .option('--device <name>', 'torch device for the reference (cpu, cuda)', 'cpu')
    .option('--threads <n>', 'torch CPU threads (0: its default)', (v) => Number(v), availableParallelism())
    .option('--no-reference', 'skip the PyTorch reference')
    .parse().opts<Opts>();
  const preset = PRESETS[o.preset];
  if (!preset) throw new Error(`unknown preset ${o.preset}`);
  if (!neoxTokenizerPath) throw new Error('the shared data (GPT-NeoX tokenizer, WikiText-103) was not found: set FACTLAB_SHARED_DATA');
  await useBackend(o.backend, '--backend');
  const config = parseConfig(preset, o.preset) as MambaConfig;
  const tok = await loadTokenizer(neoxTokenizerPath);
  const model = randomModel(config, 0);
  const layer = config.nLayer === 64 ? 15 : Math.round((config.nLayer * 15) / 64);
  const target = editTarget(config, layer, 'o');
  console.error(`${o.preset}: ${config.nLayer} layers, width ${config.dModel}; W_o of layer ${layer}; statistics over ${o.tokens} tokens`);

  // The statistics corpus: whole WikiText articles (cut to 2048 tokens) until the token budget is met.
  const docs: string[] = [], ids: number[][] = [];
  let total = 0;
  for await (const d of wikitextCorpus(sharedPath('wikitext103')!).documents()) {
    if (total >= o.tokens) break;
    const t = tok.encode(d).ids.slice(0, MAX_LENGTH);
    docs.push(d); ids.push(t); total += t.length;
  }
  const corpus = textCorpus(`bench-wikitext-${docs.length}`, docs);
  const cacheDir = mkdtempSync(join(tmpdir(), 'factlab-rome-bench-'));
  const bar = progressBar('statistics (documents)');
  let t0 = performance.now();
  const stats = await secondMoments(model, tok, [target.keySite], { corpus, nSamples: docs.length, maxLength: MAX_LENGTH, batchTokens: BATCH_TOKENS, cacheDir, modelId: 'bench', onProgress: (p) => bar.update(p.documents, docs.length) });
  const statsSeconds = (performance.now() - t0) / 1000;
  bar.stop();
  console.error(`factlab statistics: ${stats.get(target.keySite)!.tokens} tokens in ${statsSeconds.toFixed(2)} s`);

  const editor = new RomeEditor(model, tok, { corpus, cacheDir, modelId: 'bench', batchTokens: BATCH_TOKENS, hparams: { layer, matrix: 'o', mom2NSamples: docs.length, mom2MaxLength: MAX_LENGTH } });
  t0 = performance.now();
  const contexts = await editor.contextTemplates();
  const contextSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await editor.prepareStats([{ layer, matrix: 'o' }]);
  const factorSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const edit = await editor.compute(REQUEST);
  const editSeconds = (performance.now() - t0) / 1000;
  console.error(`factlab edit: ${editSeconds.toFixed(2)} s (${edit.v.steps.length} v* steps); context templates sampled in ${contextSeconds.toFixed(2)} s; C factored in ${factorSeconds.toFixed(2)} s`);

  let reference: Record<string, unknown> | null = null;
  if (o.reference) {
    const dir = mkdtempSync(join(tmpdir(), 'factlab-rome-ref-'));
    const params = [...model.params.values()].reduce((a, t) => a + t.size, 0);
    const sameWeights = params <= HAND_OVER_LIMIT;
    if (sameWeights) await saveModel(model, join(dir, 'model'));
    const tgt = targetIds(tok, REQUEST.target);
    const ctx = contexts.map((c) => locate(tok, c, REQUEST.prompt, REQUEST.subject));
    const kl = locate(tok, '{}', editor.hparams.klPrompt, REQUEST.subject);
    const bare = locate(tok, '{}', REQUEST.prompt, REQUEST.subject);
    const spec = {
      config: { d_model: config.dModel, n_layer: config.nLayer, d_inner: config.dInner, d_state: config.dState, dt_rank: config.dtRank, d_conv: config.dConv, vocab_size: config.vocabSize, eps: config.eps, tie_embeddings: config.tieEmbeddings },
      weights: sameWeights ? join(dir, 'model', 'model.safetensors') : null, seed: 0, layer, hparams: editor.hparams,
      stats_batches: batches(ids),
      edit: {
        context_rows: ctx.map((c) => c.ids), context_last: ctx.map((c) => c.subjectLast),
        rewrite_rows: ctx.map((c) => [...c.ids, ...tgt.slice(0, -1)]), rewrite_last: ctx.map((c) => c.subjectLast), prompt_len: ctx.map((c) => c.ids.length), target: tgt,
        kl_ids: kl.ids, kl_last: kl.subjectLast, bare_ids: bare.ids, bare_last: bare.subjectLast,
      },
    };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const script = fileURLToPath(new URL('../../reference/rome_reference.py', import.meta.url));
    console.error(`reference: ${o.python} ${script} on ${o.device}${sameWeights ? ', same weights' : ', its own random weights'}`);
    const r = spawnSync(o.python, [script, '--spec', join(dir, 'spec.json'), '--out', join(dir, 'out.json'), '--device', o.device, '--threads', String(o.threads)], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0 || !existsSync(join(dir, 'out.json'))) {
      reference = { error: `${o.python} exited with ${r.status ?? r.error?.message}` };
    } else {
      const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { statsSeconds: number; statsTokens: number; editSeconds: number; u: number[]; r: number[]; vSteps: unknown[]; device: string; torch: string; threads: number };
      reference = {
        statsSeconds: out.statsSeconds, statsTokens: out.statsTokens, editSeconds: out.editSeconds, vSteps: out.vSteps.length, device: out.device, torch: out.torch, threads: out.threads, sameWeights,
        uRelDiff: sameWeights ? relDiff(edit.u, out.u) : null, rRelDiff: sameWeights ? relDiff(edit.r, out.r) : null,
      };
    }
  }
  record(o, config, layer, { statsSeconds, statsTokens: stats.get(target.keySite)!.tokens, documents: docs.length, editSeconds, contextSeconds, factorSeconds, vSteps: edit.v.steps.length, finalProb: edit.v.steps.at(-1)!.meanProb }, reference, loadAtStart);
}

function record(o: Opts, config: MambaConfig, layer: number, factlab: { statsSeconds: number; statsTokens: number; documents: number; editSeconds: number; contextSeconds: number; factorSeconds: number; vSteps: number; finalProb: number }, reference: Record<string, unknown> | null, loadAtStart: number): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const { date, commit, machine } = benchContext(loadAtStart);
  const command = `node dist/bench/rome.js ${process.argv.slice(2).join(' ')}`.trim();
  const ref = reference && !('error' in reference) ? reference as { statsSeconds: number; statsTokens: number; editSeconds: number; vSteps: number; device: string; torch: string; threads: number; sameWeights: boolean; uRelDiff: number | null; rRelDiff: number | null } : null;
  const kt = (n: number, s: number) => `${((n / s) / 1000).toFixed(2)}k tokens/s`;
  const md = [
    `### ${date.slice(0, 16).replace('T', ' ')} UTC — ${o.preset} (${config.nLayer} layers, width ${config.dModel}), W_o of layer ${layer}; backend ${o.backend}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverage.start.toFixed(2)} at start, ${machine.loadAverage.end.toFixed(2)} at end; commit ${commit}`,
    '',
    `Command: \`${command}\``,
    '',
    '| part | factlab | PyTorch reference | factlab speed-up |',
    '|---|---|---|---|',
    `| key statistics, ${factlab.statsTokens} tokens (${factlab.documents} articles) | ${factlab.statsSeconds.toFixed(2)} s (${kt(factlab.statsTokens, factlab.statsSeconds)}) | ${ref ? `${ref.statsSeconds.toFixed(2)} s (${kt(ref.statsTokens, ref.statsSeconds)})` : '–'} | ${ref ? `${(ref.statsSeconds / factlab.statsSeconds).toFixed(2)}×` : '–'} |`,
    `| one edit, statistics excluded (${factlab.vSteps} v* steps; reference ${ref?.vSteps ?? '–'}) | ${factlab.editSeconds.toFixed(2)} s | ${ref ? `${ref.editSeconds.toFixed(2)} s` : '–'} | ${ref ? `${(ref.editSeconds / factlab.editSeconds).toFixed(2)}×` : '–'} |`,
    '',
    ref ? `Reference: torch ${ref.torch} on ${ref.device}${ref.device === 'cpu' ? ` (${ref.threads} threads)` : ''}, mamba-minimal's Python-loop scan. ${ref.sameWeights ? `Same weights and inputs on both sides: relative L2 difference of u ${ref.uRelDiff!.toExponential(2)}, of r ${ref.rRelDiff!.toExponential(2)}.` : 'Each side has its own random weights (timing only).'}`
      : reference ? `Reference failed: ${(reference as { error: string }).error}.` : 'Reference not run.',
    `Context templates (21, sampled once per model and cached, not in the edit time): ${factlab.contextSeconds.toFixed(2)} s. C's Cholesky factor (once per layer and module, kept for every edit there, as ROME keeps C⁻¹; not in the edit time, while the reference's edit includes its torch.inverse): ${factlab.factorSeconds.toFixed(2)} s.`,
    '',
  ].join('\n');
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  const file = join(root, `bench/results/rome-${date.slice(0, 16).replace(':', '')}-${o.preset}.json`);
  writeFileSync(file, `${JSON.stringify({ date, command, commit, machine, preset: o.preset, config, layer, request: REQUEST, factlab, reference }, null, 2)}\n`);
  appendFileSync(join(root, 'bench/results/rome.md'), `${md}\n`);
  const perf = join(root, 'docs/performance.md');
  if (!readFileSync(perf, 'utf8').includes('## ROME')) appendFileSync(perf, `\n## ROME: key statistics and one edit\n\n${ROME_INTRO}\n`);
  appendFileSync(perf, `${md}\n`);
  console.error(`wrote ${file}; appended to bench/results/rome.md and docs/performance.md`);
}

const ROME_INTRO = `\`node dist/bench/rome.js\` (source \`bench/rome.ts\`) times, on a random-weight Mamba, the key statistics
C = E[kkᵀ] of W_o's input over N tokens of WikiText-103 and one ROME edit of W_o with C already known (k*, the
solve, the 20-step v* search, r), factlab beside the same algorithm in PyTorch (\`reference/rome_reference.py\`:
ROME's compute_u and compute_v on mamba-minimal, as romba runs them). Both sides get the same token ids (corpus,
context templates, request). Each run appends below and to \`bench/results/rome.md\` and writes its figures to
\`bench/results/rome-<date>T<hhmm>-<preset>.json\`.

**On the GPU machine (not run yet: the WebGPU backend is not ready).** Mamba-2.8b, statistics over 100,000 tokens:

\`\`\`
node dist/bench/rome.js --preset mamba-2.8b --tokens 100000 --backend webgpu --device cuda
\`\`\`

A 2.8B model is not handed over to the reference (each side makes its own random weights: timing only). Build here
and carry \`node_modules\` and \`dist\`, as for the tracing benchmark.
`;

main().catch((e) => { console.error(e); process.exit(1); });
