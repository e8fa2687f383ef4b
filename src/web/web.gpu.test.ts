/**
 * The browser page's build and its computations. The bundle must build for the browser platform (no node: module in
 * its graph); the session, given the shipped Mamba organism's files as bytes and a GPU only through navigator.gpu
 * (Dawn standing in for a browser's), must predict and trace as loadPretrained does on the CPU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { cpuBackend } from '../tensor/backends/cpu/cpu-backend.js';
import { setBackend } from '../tensor/backends/current.js';
import { loadPretrained } from '../models/load.js';
import { traceFact } from '../methods/tracing/trace.js';

const ORGANISM = 'models/mamba-organism';
const PROMPT = 'The Eiffel Tower is located in the city of';

test('the page bundles for the browser, with no node: module and no require', async () => {
  const { buildWeb } = await import(join(process.cwd(), 'scripts', 'build-web.mjs')) as { buildWeb: (dir: string) => Promise<string> };
  const out = await buildWeb(mkdtempSync(join(tmpdir(), 'factlab-web-')));
  const code = readFileSync(out, 'utf8');
  assert.doesNotMatch(code, /\bfrom\s*["']node:|import\(\s*["']node:|\brequire\(/);
  // The one import left to run time is Dawn's, which a browser's navigator.gpu replaces.
  assert.deepEqual([...code.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]), ['webgpu']);
});

test('from a model folder\'s bytes and navigator.gpu, the page predicts and traces as the CPU does from the directory', async () => {
  // A browser's GPU object and constants; the session must ask this one for its adapter.
  const dawn = create([]);
  let adapters = 0;
  const gpu = { requestAdapter: (o?: GPURequestAdapterOptions) => { adapters++; return dawn.requestAdapter(o); }, getPreferredCanvasFormat: () => dawn.getPreferredCanvasFormat(), wgslLanguageFeatures: dawn.wgslLanguageFeatures };
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  const { openSession, nextTokens, traceInPage } = await import('./session.js');

  const files = new Map(readdirSync(ORGANISM).map((f) => [f, new Uint8Array(readFileSync(join(ORGANISM, f)))]));
  const session = await openSession(files, 'mamba-organism');
  assert.equal(adapters, 1, 'the GPU came from navigator.gpu');
  const cpu = await loadPretrained(ORGANISM, { backend: cpuBackend });
  try {
    // The CPU's side runs with the CPU as the current backend (openSession made the GPU current).
    const onCpuBackend = async <T>(fn: () => Promise<T>) => { setBackend(cpuBackend); try { return await fn(); } finally { setBackend(session.gpu); } };
    const onGpu = await nextTokens(session, PROMPT, 5);
    const onCpu = await onCpuBackend(() => nextTokens({ ...session, model: cpu.model, tokenizer: cpu.tokenizer }, PROMPT, 5));
    assert.deepEqual(onGpu.map((t) => t.id), onCpu.map((t) => t.id));
    for (const [g, c] of onGpu.map((t, i) => [t, onCpu[i]!] as const)) assert.ok(Math.abs(g.p - c.p) < 1e-4, `${g.text}: ${g.p} on the GPU, ${c.p} on the CPU`);

    const q = { prompt: PROMPT, subject: 'The Eiffel Tower', altSubject: 'The Colosseum' };
    const { trace, figures } = await traceInPage(session, q);
    const want = await onCpuBackend(() => traceFact(cpu.model, cpu.tokenizer, q, { corruption: { kind: 'swap' } }));
    assert.equal(trace.answer.id, want.answer.id);
    assert.ok(Math.abs(trace.high - want.high) < 1e-4 && Math.abs(trace.low - want.low) < 1e-4, `high ${trace.high} / ${want.high}, low ${trace.low} / ${want.low}`);
    assert.deepEqual(trace.sites.map((s) => s.site), want.sites.map((s) => s.site));
    trace.sites.forEach((s, k) => s.scores.forEach((row, i) => row.forEach((p, j) => assert.ok(Math.abs(p - want.sites[k]!.scores[i]![j]!) < 1e-4, `${s.site} [${i}][${j}]`))));
    assert.equal(figures.length, trace.sites.length);
    for (const f of figures) assert.match(f.svg, /^<svg[\s\S]*<\/svg>\s*$/);
  } finally {
    session.model.dispose();
    cpu.model.dispose();
  }
});
