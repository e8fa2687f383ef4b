/**
 * Causal tracing benchmark: time per fact, factlab beside the paper's procedure, in one command.
 *
 *   node dist/bench/trace.js [--preset small|mamba-2.8b] [--facts 2] [--batch-size 256[,128,...]] [--backend cpu|webgpu]
 *                            [--python python3] [--device cpu|cuda] [--no-reference] [--modes per-patch,batched,reuse-layers,reuse]
 *
 * A random-weight Mamba (preset `mamba-2.8b`: 64 layers, width 2560, the paper's model) traces prompts of 12 random
 * tokens whose subject is tokens 1..3, corrupted by swapping those tokens, at the sites residual, s, g and o
 * (window 10). factlab runs in four modes: `per-patch` (the paper's procedure: one forward of [clean, corrupted]
 * per site, token and layer), `batched` (many patched rows per forward, each from the embeddings), `reuse-layers`
 * (batched, and each forward starts at the lowest layer its rows patch, from the residual stream cached by the
 * clean and corrupted runs) and `reuse` (the default: also at the first position they patch, from the states
 * cached by those runs). Both reuse modes skip the patches of the token before the subject, which the two
 * prompts share: restoring it restores what is already there (EngineOptions.skipUnchanged). Then reference/trace_reference.py runs the paper's procedure in PyTorch on
 * mamba-minimal, as romba does; when the weights are small enough to hand over, it gets the same weights and
 * the matrices are compared. Figures go to bench/results/trace-<date>T<hhmm>-<preset>.json,
 * bench/results/trace.md and docs/performance.md, with the machine, the date and the command.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { benchContext, writeBenchRecord } from './context.js';
import { parseConfig, type MambaConfig } from '../src/io/config/config.js';
import { randomModel } from '../src/models/random.js';
import { saveModel } from '../src/models/save.js';
import { useBackend } from '../src/tensor/backends/by-name.js';
import { WebGPUBackend } from '../src/tensor/backends/webgpu/webgpu-backend.js';
import { byOp, byShape, type KernelTotal } from '../src/tensor/backends/webgpu/kernel-timer.js';
import { Rng } from '../src/tensor/random.js';
import { traceInput, tracePatches } from '../src/methods/tracing/trace.js';
import { planBatches, sharedPrefix } from '../src/methods/tracing/engine.js';
import { resolveTraceSite } from '../src/methods/tracing/sites.js';
import type { TraceInput } from '../src/methods/tracing/types.js';

// Untied heads: random.ts draws a tied head as the N(0, 1) embedding, whose logits (std √d) put p = 1 on one token
// everywhere, and then no patch changes anything; a head of std 1/√d gives logits of std ~1, as trained models have.
const PRESETS: Record<string, Record<string, unknown>> = {
  small: { model_type: 'mamba', hidden_size: 128, num_hidden_layers: 16, vocab_size: 50280, state_size: 16, tie_word_embeddings: false },
  'mamba-2.8b': { model_type: 'mamba', hidden_size: 2560, num_hidden_layers: 64, vocab_size: 50280, state_size: 16, tie_word_embeddings: false },
};
const SITES = ['residual', 's', 'g', 'o'];
const MODES = ['per-patch', 'batched', 'reuse-layers', 'reuse'] as const;
type Mode = (typeof MODES)[number];
/** Larger models get random weights on each side rather than a safetensors file handed over (timing only). */
const HAND_OVER_LIMIT = 5e8;

interface FactlabMode {
  msPerFact: number[]; batchSize: number; reuse: boolean; reusePositions: boolean; work: number;
  /** With --profile: one more fact with every kernel timed on the GPU. */
  /** `products`: matmul's kernels by sizes and plan (KernelTime.shape), largest first. */
  gpu?: { ms: number; kernels: number; passes: number; top: KernelTotal[]; products: KernelTotal[] };
}
interface Opts { preset: string; facts: number; tokens: number; batchSize: string; backend: string; python: string; device: string; reference: boolean; referenceSeconds: number; modes: string; threads: number; profile: boolean }

function facts(n: number, T: number, vocab: number): TraceInput[] {
  const rng = new Rng(1);
  return Array.from({ length: n }, () => {
    const clean = Array.from({ length: T }, () => 1 + rng.int(vocab - 1));
    const corrupt = clean.map((id, t) => (t >= 1 && t < 4 ? 1 + rng.int(vocab - 1) : id));
    return { ids: Int32Array.from([...clean, ...corrupt]), mask: null, T, subject: { start: 1, end: 4 }, first: 0, noise: null };
  });
}


const median = (x: readonly number[]) => {
  const s = [...x].sort((a, b) => a - b), m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  const o = new Command('trace-bench')
    .option('--preset <name>', Object.keys(PRESETS).join(' or '), 'small')
    .option('--facts <n>', 'facts timed per mode (after one untimed fact)', (v) => Number(v), 2)
    .option('--tokens <n>', 'prompt length', (v) => Number(v), 12)
    .option('--batch-size <list>', 'rows per forward in the batched modes; a comma-separated list runs each of them at each size', '256')
    .option('--backend <name>', 'cpu or webgpu', 'cpu')
    .option('--python <path>', 'python with torch, for the reference', process.env.FACTLAB_PYTHON ?? 'python3')
    .option('--device <name>', 'torch device for the reference (cpu, cuda)', 'cpu')
    .option('--threads <n>', 'torch CPU threads (0: its default)', (v) => Number(v), availableParallelism())
    .option('--no-reference', 'skip the PyTorch reference')
    .option('--reference-seconds <s>', 'stop the reference\'s fact after this long and project its time from the forwards it made (0: no limit)', (v) => Number(v), 0)
    .option('--modes <list>', `factlab modes: ${MODES.join(',')}`, MODES.join(','))
    .option('--profile', 'webgpu: trace one more fact per mode with every kernel timed on the GPU, and list where the time goes')
    .parse().opts<Opts>();
  const preset = PRESETS[o.preset];
  if (!preset) throw new Error(`unknown preset ${o.preset}`);
  const modes = o.modes.split(',') as Mode[];
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`unknown mode ${m}`);
  const backend = await useBackend(o.backend, '--backend');
  const gpu = backend instanceof WebGPUBackend ? backend : null;
  const gpuName = gpu?.description ?? null;
  const config = parseConfig(preset, o.preset) as MambaConfig;
  const model = randomModel(config, 0);
  const sites = SITES.map((s) => resolveTraceSite(config, s));
  const inputs = facts(o.facts, o.tokens, config.vocabSize);
  const patches = sites.length * o.tokens * config.nLayer;
  console.error(`${o.preset}: ${config.nLayer} layers, width ${config.dModel}; ${o.facts} facts of ${o.tokens} tokens; ${patches} patched runs per fact`);

  const factlab: Record<string, FactlabMode> = {};
  const samplePatches = tracePatches(inputs[0]!, sites, config.nLayer);
  const scores: Record<string, number[][][]> = {};
    const sizes = o.batchSize.split(',').map(Number);
  if (sizes.some((b) => !Number.isInteger(b) || b < 2)) throw new Error(`--batch-size: integers of at least 2, got ${o.batchSize}`);
  const runs = modes.flatMap((mode): { mode: Mode; batchSize: number }[] => (mode === 'per-patch' ? [{ mode, batchSize: 2 }] : sizes.map((batchSize) => ({ mode, batchSize }))));
  for (const { mode: m, batchSize } of runs) {
    const mode = sizes.length > 1 && m !== 'per-patch' ? `${m} @${batchSize}` : m;
    const reuse = m.startsWith('reuse'), reusePositions = m === 'reuse';
    // One fact untimed first: it compiles the kernels of every pass shape and grows the buffer pool, which made
    // the first timed fact 1.7× slower than the next (bench/results/trace.md, 2026-11-25 01:03).
    await traceInput(model, inputs[0]!, sites, { batchSize, reuse, reusePositions, skipUnchanged: reuse });
    const ms: number[] = [];
    for (const [k, input] of inputs.entries()) {
      const created = gpu?.buffersCreated() ?? 0;
      const t0 = performance.now();
      const r = await traceInput(model, input, sites, { batchSize, reuse, reusePositions, skipUnchanged: reuse });
      ms.push(performance.now() - t0);
      const churn = gpu ? `; ${gpu.buffersCreated() - created} GPU buffers created` : '';
      if (m === 'per-patch') scores[k] = r.sites.map((s) => s.scores);
      console.error(`factlab ${mode}: fact ${k}: ${(ms.at(-1)! / 1000).toFixed(2)} s${churn}`);
    }
    // The share of (row × layer × position) block computations done, against the same batches run whole.
    const plan = planBatches(samplePatches, { nLayer: config.nLayer, T: o.tokens, batchSize, samples: 1, reuse: reusePositions ? 'positions' : reuse ? 'layers' : 'none', shared: reuse ? sharedPrefix(inputs[0]!) : 0 });
    factlab[mode] = { msPerFact: ms, batchSize, reuse, reusePositions, work: plan.work / plan.workFromEmbeddings };
    if (o.profile && gpu) {
      let passes = 0;
      const { kernels, dropped } = await gpu.timeKernels(() => traceInput(model, inputs[0]!, sites, { batchSize, reuse, reusePositions, skipUnchanged: reuse, onProgress: () => { passes++; } }), 1 << 20);
      if (dropped > 0) console.error(`profile: ${dropped} kernels ran untimed`);
      factlab[mode]!.gpu = { ms: +kernels.reduce((t, k) => t + k.ms, 0).toFixed(1), kernels: kernels.length + dropped, passes: passes - 1, top: byOp(kernels).slice(0, 12).map((x) => ({ ...x, ms: +x.ms.toFixed(1) })), products: byShape(kernels, 'matmul').slice(0, 10).map((x) => ({ ...x, ms: +x.ms.toFixed(1) })) };
    }
  }

  let reference: { secondsPerFact: number[]; device: string; torch: string; sameWeights: boolean; maxAbsDiff: number | null; forwards: number; forwardsMade: number; projected: boolean } | { error: string } | null = null;
  if (o.reference) {
    const dir = mkdtempSync(join(tmpdir(), 'factlab-trace-bench-'));
    const params = [...model.params.values()].reduce((a, t) => a + t.size, 0);
    const sameWeights = params <= HAND_OVER_LIMIT;
    if (sameWeights) await saveModel(model, join(dir, 'model'));
    const spec = {
      config: { d_model: config.dModel, n_layer: config.nLayer, d_inner: config.dInner, d_state: config.dState, dt_rank: config.dtRank, d_conv: config.dConv, vocab_size: config.vocabSize, eps: config.eps, tie_embeddings: config.tieEmbeddings },
      weights: sameWeights ? join(dir, 'model', 'model.safetensors') : null, seed: 0,
      sites: SITES, window: 10, facts: inputs.map((f) => [Array.from(f.ids.subarray(0, f.T)), Array.from(f.ids.subarray(f.T))]),
    };
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    const script = fileURLToPath(new URL('../../reference/trace_reference.py', import.meta.url));
    console.error(`reference: ${o.python} ${script} on ${o.device}${sameWeights ? ', same weights' : ', its own random weights'}`);
    const status = await runReference(o.python, [script, '--spec', join(dir, 'spec.json'), '--out', join(dir, 'out.json'), '--device', o.device, '--threads', String(o.threads), '--max-seconds', String(o.referenceSeconds)],
      // Stopped during the reference (a time limit's SIGTERM, ^C): factlab's figures are recorded all the same.
      () => record(o, config, patches, factlab, { error: 'interrupted by a signal before it finished' }, loadAtStart, gpuName));
    if (status !== 0 || !existsSync(join(dir, 'out.json'))) reference = { error: `${o.python} exited with ${status}` };
    else {
      const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { seconds_per_fact: number[]; device: string; torch: string; projected: boolean; facts: { scores: Record<string, number[][]> | null; forwards: number; forwards_total: number }[] };
      let maxAbsDiff: number | null = null;
      if (sameWeights && scores[0] && !out.projected) {
        maxAbsDiff = 0;
        out.facts.forEach((f, k) => SITES.forEach((s, j) => f.scores![s]!.forEach((row, t) => row.forEach((v, l) => { maxAbsDiff = Math.max(maxAbsDiff!, Math.abs(v - scores[k]![j]![t]![l]!)); }))));
      }
      reference = { secondsPerFact: out.seconds_per_fact, device: out.device, torch: out.torch, sameWeights, maxAbsDiff, forwards: out.facts[0]!.forwards_total, forwardsMade: out.facts[0]!.forwards, projected: out.projected };
    }
  }
  model.dispose();
  record(o, config, patches, factlab, reference, loadAtStart, gpuName);
}

/**
 * Runs the reference script, its output passed through; resolves with its exit status (or the error that kept it
 * from starting). A SIGTERM or SIGINT meanwhile stops it, calls `onSignal` and exits.
 */
function runReference(python: string, args: string[], onSignal: () => void): Promise<number | string> {
  const child = spawn(python, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const stop = (signal: NodeJS.Signals) => {
    child.kill('SIGKILL');
    console.error(`trace-bench: ${signal} during the reference; recording factlab's side`);
    onSignal();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGTERM', stop).once('SIGINT', stop);
  return new Promise((resolve) => {
    const done = (v: number | string) => { process.off('SIGTERM', stop).off('SIGINT', stop); resolve(v); };
    child.once('error', (e) => done(e.message));
    child.once('exit', (code, signal) => done(code ?? `signal ${signal}`));
  });
}

function record(o: Opts, config: MambaConfig, patches: number, factlab: Record<string, FactlabMode>, reference: unknown, loadAtStart: number, gpu: string | null): void {
  const { date, commit, machine, command } = benchContext(loadAtStart);
  const base = factlab['per-patch'] ? median(factlab['per-patch'].msPerFact) : null;
  const ref = reference && !('error' in (reference as object)) ? reference as { secondsPerFact: number[]; device: string; torch: string; maxAbsDiff: number | null; sameWeights: boolean; forwards: number; forwardsMade: number; projected: boolean } : null;
  const rows = Object.entries(factlab).map(([mode, r]) => {
    const ms = median(r.msPerFact);
    return `| factlab ${mode} (batch ${r.batchSize}${r.reuse ? `, reuse: ${(100 * r.work).toFixed(0)}% of the block work` : ''}) | ${(ms / 1000).toFixed(2)} s | ${base ? `${(base / ms).toFixed(2)}×` : ''} | ${ref ? `${(median(ref.secondsPerFact) * 1000 / ms).toFixed(2)}×` : ''} |`;
  });
  if (ref) rows.push(`| PyTorch reference (${ref.device}, torch ${ref.torch})${ref.projected ? `, projected from the forwards it made in time (fact 0: ${ref.forwardsMade} of ${ref.forwards})` : ''} | ${median(ref.secondsPerFact).toFixed(2)} s | ${base ? `${(base / (median(ref.secondsPerFact) * 1000)).toFixed(2)}×` : ''} | 1× |`);
  const md = [
    `### ${date.slice(0, 16).replace('T', ' ')} UTC — ${o.preset} (${config.nLayer} layers, width ${config.dModel}), ${o.tokens} tokens, sites ${SITES.join(', ')}; backend ${o.backend}${gpu ? ` on ${gpu}` : ''}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadAverage.start.toFixed(2)} at start, ${machine.loadAverage.end.toFixed(2)} at end; commit ${commit}`,
    '',
    `Command: \`${command}\` — median time per fact over ${o.facts} facts (${patches} patched runs each).`,
    '',
    '| procedure | time per fact | speed-up over factlab per-patch | speed-up over the reference |',
    '|---|---|---|---|',
    ...rows,
    '',
    ...(Object.values(factlab).some((r) => r.gpu) ? [
      'Where factlab\'s time goes (`--profile`: one more fact traced with every kernel timed by GPU timestamps; the rest of the wall time is the host recording kernels and waiting):',
      '',
      '| mode | wall per fact | GPU time of its kernels | forward passes | kernels | the ops that took most of it |',
      '|---|---|---|---|---|---|',
      ...Object.entries(factlab).filter(([, r]) => r.gpu).map(([mode, r]) => `| ${mode} | ${(median(r.msPerFact) / 1000).toFixed(2)} s | ${(r.gpu!.ms / 1000).toFixed(2)} s | ${r.gpu!.passes} | ${r.gpu!.kernels} | ${r.gpu!.top.map((x) => `${x.op} ${x.ms} ms (${x.count})`).join('; ')} |`),
      '',
      'The products that took most of it (M × K × N of op(A)·op(B), M as a range, and the kernel\'s plan):',
      '',
      '| mode | product | GPU time | kernels |',
      '|---|---|---|---|',
      ...Object.entries(factlab).filter(([, r]) => r.gpu).flatMap(([mode, r]) => r.gpu!.products.map((x) => `| ${mode} | ${x.op} | ${x.ms} ms | ${x.count} |`)),
      '',
    ] : []),
    ref ? (ref.maxAbsDiff !== null ? `Same weights on both sides: the largest difference between factlab's (per-patch) and the reference's p(answer) is ${ref.maxAbsDiff.toExponential(2)}.`
      : ref.sameWeights ? 'Same weights on both sides; compare the matrices by including the per-patch mode.' : 'The reference used its own random weights (too large to hand over): timing only.')
      : reference ? `Reference failed: ${(reference as { error: string }).error}.` : 'Reference not run (--no-reference).',
    '',
  ].join('\n');
  writeBenchRecord('trace', o.preset, date, { date, command, commit, machine: { ...machine, gpu }, preset: o.preset, config, tokens: o.tokens, sites: SITES, patchesPerFact: patches, factlab, reference }, md);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
