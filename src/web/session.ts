/**
 * What the browser page does, without the page: open a model folder's files on the GPU (navigator.gpu), read the
 * next token's distribution, and trace a fact with its heatmaps. The page (app.ts) calls these; so do the tests,
 * in Node, with Dawn standing in for navigator.gpu.
 */
import { initWebGPU, type WebGPUBackend } from '../tensor/backends/webgpu/webgpu-backend.js';
import { setBackend } from '../tensor/backends/current.js';
import { tensor } from '../tensor/creation.js';
import { tidy } from '../tensor/lifetime.js';
import { softmax } from '../tensor/ops/reduce/softmax.js';
import { topk } from '../tensor/ops/reduce/max.js';
import type { FactTokenizer } from '../io/tokenizer/tokenizer.js';
import type { LanguageModel } from '../models/model.js';
import { loadPretrainedFromFiles, type ModelFiles } from '../models/load-files.js';
import { resolveSites, traceFact, type TraceOptions } from '../methods/tracing/trace.js';
import { factHeatmap } from '../methods/tracing/figures.js';
import type { FactTrace } from '../methods/tracing/types.js';

export interface Session { gpu: WebGPUBackend; model: LanguageModel; tokenizer: FactTokenizer; name: string }

/** A model folder's files (by name) loaded onto the GPU, which becomes the current backend. */
export async function openSession(files: ModelFiles, name: string): Promise<Session> {
  const gpu = await initWebGPU();
  setBackend(gpu);
  const { model, tokenizer } = await loadPretrainedFromFiles(files, name, { backend: gpu });
  return { gpu, model, tokenizer, name };
}

export interface NextToken { id: number; text: string; p: number }

/** The `k` likeliest next tokens after `prompt`, with their probabilities. */
export async function nextTokens(s: Session, prompt: string, k = 10): Promise<NextToken[]> {
  const { ids } = s.tokenizer.encode(prompt);
  const [p, idx] = tidy(() => topk(softmax(s.model.forward(tensor(Int32Array.from(ids), [1, ids.length]), { logits: 'last' })), k));
  try {
    const [probs, which] = await Promise.all([p.data(), idx.data()]);
    return Array.from(which, (id, i) => ({ id, text: s.tokenizer.decode([id]), p: probs[i]! }));
  } finally {
    p.dispose();
    idx.dispose();
  }
}

export interface TraceRequest { prompt: string; subject: string; altSubject?: string; onProgress?: (done: number, total: number) => void }

/**
 * Causal tracing of one fact at the paper's sites: subject swap with `altSubject`, else Gaussian noise on the
 * subject (ROME's corruption). Returns the trace and one SVG heatmap per site.
 */
export async function traceInPage(s: Session, r: TraceRequest): Promise<{ trace: FactTrace; figures: { site: string; svg: string }[] }> {
  const opts: TraceOptions = { corruption: r.altSubject ? { kind: 'swap' } : { kind: 'noise' }, ...(r.onProgress && { onProgress: r.onProgress }) };
  const trace = await traceFact(s.model, s.tokenizer, { prompt: r.prompt, subject: r.subject, ...(r.altSubject && { altSubject: r.altSubject }) }, opts);
  const figures = resolveSites(s.model, opts).map((site) => ({ site: site.name, svg: factHeatmap(trace, site, s.name) }));
  return { trace, figures };
}
