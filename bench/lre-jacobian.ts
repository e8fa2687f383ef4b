/**
 * LRE's Jacobian ∂z/∂h (d×d) computed with one backward pass per row (chunk 1, the naive way) and with batched
 * passes (chunk rows at once), on random-weight models. Records to bench/results/lre-jacobian-<date>.json and .md.
 *   node dist/bench/lre-jacobian.js [d=256] [layers=4] [cpu|webgpu] [chunks=1,16,64,d]
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../src/io/config/config.js';
import { randomModel } from '../src/models/random.js';
import { byteTokenizer } from '../src/models/testing/byte-tokenizer.js';
import { iclPrompt } from '../src/methods/lre/prompts.js';
import { hToZ, readHz } from '../src/methods/lre/probe.js';
import { jacobian } from '../src/tensor/jacobian.js';
import { threadCount } from '../src/tensor/backends/cpu/wasm.js';
import { useBackend } from '../src/tensor/backends/by-name.js';
import { FactlabError } from '../src/tensor/errors.js';

const d = Number(process.argv[2] ?? 256), L = Number(process.argv[3] ?? 4), backend = process.argv[4] ?? 'cpu';
const chunks = (process.argv[5] ?? `1,16,64,${d}`).split(',').map(Number);
await useBackend(backend, 'the backend argument');
const tok = byteTokenizer();
const examples = [{ subject: 'France', object: 'Paris' }, { subject: 'Japan', object: 'Tokyo' }, { subject: 'Peru', object: 'Lima' }, { subject: 'Chile', object: 'Santiago' }];
const rows: Record<string, unknown>[] = [];
for (const arch of ['mamba', 'gpt_neox']) {
  const config = parseConfig(arch === 'mamba'
    ? { model_type: 'mamba', hidden_size: d, num_hidden_layers: L, vocab_size: 257 }
    : { model_type: 'gpt_neox', hidden_size: d, num_hidden_layers: L, num_attention_heads: 8, vocab_size: 257, rotary_pct: 0.25 });
  const model = randomModel(config, 1);
  const p = iclPrompt(tok, 'The capital of {} is', examples, 'Italy');
  const { h, z } = readHz(model, p.ids, Math.floor(L / 2), p.subjectLast);
  const f = hToZ(model, p.ids, Math.floor(L / 2), p.subjectLast);
  let reference: ArrayLike<number> | null = null;
  for (const chunk of chunks) {
    const t = performance.now();
    let data: ArrayLike<number>;
    try {
      const J = jacobian(f, h, { chunk });
      data = await J.data();
      J.dispose();
    } catch (e) {
      // A pass too large for the GPU is a finding to record (the operand and the binding limit), not a crash.
      if (!(e instanceof FactlabError)) throw e;
      rows.push({ arch, d, layers: L, tokens: p.ids.length, chunk, passes: Math.ceil(d / chunk), error: e.message });
      console.log(JSON.stringify(rows[rows.length - 1]));
      continue;
    }
    const ms = performance.now() - t;
    let diff = 0;
    if (reference) for (let i = 0; i < data.length; i++) diff = Math.max(diff, Math.abs(data[i]! - reference[i]!));
    else reference = data;
    rows.push({ arch, d, layers: L, tokens: p.ids.length, chunk, passes: Math.ceil(d / chunk), ms: Math.round(ms), maxDiffVsChunk1: diff });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
  h.dispose(); z.dispose(); f.dispose(); model.dispose();
}
const date = new Date().toISOString();
const machine = { cpu: os.cpus()[0]?.model, cores: os.cpus().length, threads: threadCount(), node: process.version, loadAverage: os.loadavg().map((x) => +x.toFixed(2)) };
const command = `node dist/bench/lre-jacobian.js ${process.argv.slice(2).join(' ')}`.trim();
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/lre-jacobian-${date.slice(0, 10)}.json`, JSON.stringify({ date, machine, command, rows }, null, 1));
appendFileSync('bench/results/lre-jacobian.md', [`\n### ${date.slice(0, 16)} UTC — backend ${backend}; ${machine.cpu}, ${machine.cores} cores, ${machine.threads} threads, Node ${machine.node}, load average ${machine.loadAverage.join(' ')}`, '', `Command: \`${command}\` — one ${d}×${d} Jacobian of z (last layer, last token) with respect to h (layer ${Math.floor(L / 2)}, subject's last token), ${rows[0]!.tokens}-token prompt.`, '',
  '| model | rows per pass | passes | time | max \\|Δ\\| vs one row per pass |', '|---|---|---|---|---|',
  ...rows.map((r) => (r.error ? `| ${r.arch} | ${r.chunk} | ${r.passes} | fails: ${r.error} | |` : `| ${r.arch} | ${r.chunk} | ${r.passes} | ${r.ms} ms | ${(r.maxDiffVsChunk1 as number).toExponential(1)} |`)), ''].join('\n'));
