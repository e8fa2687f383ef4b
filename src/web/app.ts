/**
 * The page of src/web/index.html: picks a model folder, loads it onto the GPU through navigator.gpu, and shows the
 * next token and causal tracing heatmaps. Everything it computes comes from session.ts; this file only wires the page.
 */
import { nextTokens, openSession, traceInPage, type Session } from './session.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $('status');
let session: Session | null = null;

function say(text: string, error = false): void {
  status.textContent = text;
  status.className = error ? 'error' : '';
}

/** Runs `fn` with the page's buttons disabled, and reports its error in one line. */
async function busy(fn: () => Promise<void>): Promise<void> {
  const buttons = [$<HTMLButtonElement>('next'), $<HTMLButtonElement>('trace')];
  for (const b of buttons) b.disabled = true;
  try {
    await fn();
  } catch (e) {
    say((e as Error).message, true);
  } finally {
    for (const b of buttons) b.disabled = session === null;
  }
}

$<HTMLInputElement>('folder').addEventListener('change', (ev) => busy(async () => {
  const picked = Array.from((ev.target as HTMLInputElement).files ?? []);
  if (picked.length === 0) return;
  const folder = picked[0]!.webkitRelativePath.split('/')[0] || 'model';
  // Only the files a model needs are read into memory (a folder may also hold checkpoints of other formats).
  const wanted = new Set(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors.index.json', 'pytorch_model.bin']);
  const files = new Map<string, Uint8Array>();
  for (const f of picked) if (wanted.has(f.name)) files.set(f.name, new Uint8Array(await f.arrayBuffer()));
  say(`loading ${folder} onto the GPU…`);
  session?.model.dispose();
  session = null;
  session = await openSession(files, folder);
  say(`${folder}: ${session.model.config.arch}, ${session.model.config.nLayer} layers, on ${session.gpu.description}`);
}));

$('next').addEventListener('click', () => busy(async () => {
  const tokens = await nextTokens(session!, $<HTMLInputElement>('prompt').value);
  const rows = tokens.map((t) => `<tr><td>${escape(JSON.stringify(t.text))}</td><td>${t.p.toFixed(4)}</td></tr>`).join('');
  $('tokens').innerHTML = `<table><tr><th>token</th><th>p</th></tr>${rows}</table>`;
}));

$('trace').addEventListener('click', () => busy(async () => {
  const started = performance.now();
  const { trace, figures } = await traceInPage(session!, {
    prompt: $<HTMLInputElement>('prompt').value, subject: $<HTMLInputElement>('subject').value, altSubject: $<HTMLInputElement>('alt').value.trim() || undefined,
    onProgress: (done, total) => say(`tracing: ${done} of ${total} patched runs`),
  });
  $('figures').innerHTML = figures.map((f) => f.svg).join('\n');
  say(`${JSON.stringify(trace.answer.text)}: p = ${trace.high.toFixed(4)} clean, ${trace.low.toFixed(4)} corrupted; ${((performance.now() - started) / 1000).toFixed(1)} s`);
}));

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}
