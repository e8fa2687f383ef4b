import { FactlabError } from '../../tensor/errors.js';
import { tensor } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import type { Cut, Intervention } from '../../interventions/types.js';
import { windowLayers } from '../tracing/sites.js';
import { headProbs, patchedProbs, type HeadRows } from './batch.js';
import { knockoutPrompt } from './prompt.js';
import { SOURCE_SETS, sourcePositions, type SourceSet } from './sources.js';

/**
 * How the flow from the source tokens to the last token is knocked out over a window of layers:
 * - 'mean' (the paper's, Mamba only): the x-branch input of conv+SSM (`mixer.hook_x`) at the sources is set to its
 *   mean over a corpus, the other tokens before the last are held at their clean values, the last token's is
 *   computed. Approximate: the scan still carries the mean-ablated x to every later token, and the gate is untouched.
 * - 'cut' (exact): the edges last ← source are removed inside the layer (see interventions' Cut): the attention
 *   edges for GPT-NeoX (Geva et al.'s attention knockout), the sources' terms of the convolution and of the scan
 *   for Mamba. Nothing else changes.
 */
export type KnockoutMethod = 'mean' | 'cut';
export const KNOCKOUT_METHODS: readonly KnockoutMethod[] = ['mean', 'cut'];

export interface KnockoutOptions {
  methods?: readonly KnockoutMethod[];
  sets?: readonly SourceSet[];
  /** Layers knocked out around each layer (the paper's 10: L−5 … L+4). */
  window?: number;
  batchSize?: number;
  /** Per-layer means of `meanSite` (meanActivations), needed by 'mean'. */
  means?: readonly Float32Array[];
  meanSite?: string;
  /** Prefix the prompt with "<|endoftext|> " as the paper does (default true). */
  eosPrefix?: boolean;
}

export interface KnockoutCurve {
  method: KnockoutMethod;
  set: SourceSet;
  /** The source positions in `tokens`. */
  positions: number[];
  /** p(answer) with the window centred on each layer knocked out. */
  probs: number[];
  /** (p′ − p) / p per layer. */
  relative: number[];
}

export interface FactKnockout {
  prompt: string;
  subject: string;
  tokens: string[];
  subjectRange: [number, number];
  answer: { id: number; text: string };
  /** p(answer) in the clean run. */
  p: number;
  curves: KnockoutCurve[];
}

/** Refuses a method the architecture does not have, before any work is done for it. */
export function checkMethods(model: LanguageModel, methods: readonly KnockoutMethod[], meanSite = 'mixer.hook_x'): void {
  for (const m of methods) if (!KNOCKOUT_METHODS.includes(m)) throw new FactlabError(`knockout: unknown method ${JSON.stringify(m)} (use ${KNOCKOUT_METHODS.join(', ')})`);
  if (methods.includes('mean') && model.config.arch !== 'mamba' && meanSite === 'mixer.hook_x') throw new FactlabError(`knockout: method mean ablates Mamba's SSM input; for ${model.config.arch} use method cut (attention knockout)`);
}

export function defaultMethods(model: LanguageModel): KnockoutMethod[] {
  return model.config.arch === 'mamba' ? ['mean', 'cut'] : ['cut'];
}

interface Row { method: KnockoutMethod; set: SourceSet; layer: number; sources: number[]; others: number[] }

/** Knocks out each source set's flow to the last token, with a window centred on every layer in turn. */
export async function knockoutFact(model: LanguageModel, tok: FactTokenizer, fact: { prompt: string; subject: string }, o: KnockoutOptions = {}): Promise<FactKnockout> {
  const methods = o.methods ?? defaultMethods(model), sets = o.sets ?? SOURCE_SETS;
  const nLayer = model.config.nLayer, window = o.window ?? 10, meanSite = o.meanSite ?? 'mixer.hook_x';
  checkMethods(model, methods, meanSite);
  if (methods.includes('mean')) {
    if (!o.means || o.means.length !== nLayer) throw new FactlabError(`knockout: method mean needs the mean of ${meanSite} in each of the ${nLayer} layers (meanActivations)`);
  }
  const p = knockoutPrompt(tok, fact.prompt, fact.subject, o.eosPrefix ?? true);
  const T = p.ids.length;
  const head: HeadRows = { ids: Int32Array.from(p.ids), mask: null, T, head: 1 };
  const { answer, probs } = await headProbs(model, head);
  const clean = probs[0]!;
  const rows: Row[] = [];
  for (const method of methods) for (const set of sets) {
    const sources = sourcePositions(set, p.subject, T);
    const others = Array.from({ length: T - 1 }, (_, t) => t).filter((t) => !sources.includes(t));
    for (let layer = 0; layer < nLayer; layer++) rows.push({ method, set, layer, sources, others });
  }
  const meanTensors = methods.includes('mean') ? o.means!.map((m) => tensor(m, [m.length])) : [];
  let knocked: Float32Array;
  try {
    knocked = await patchedProbs(model, head, 0, answer, rows, o.batchSize ?? 32, (chunk, first) => {
      const interventions: Intervention[] = [], cuts: Cut[] = [];
      for (let l = 0; l < nLayer; l++) {
        const at = chunk.map((r, k) => ({ r, b: first + k })).filter(({ r }) => r.method === 'mean' && windowLayers(r.layer, window, nLayer).includes(l));
        if (at.length === 0) continue;
        const site = `blocks.${l}.${meanSite}`, rowsAt = at.map((x) => x.b);
        interventions.push({ site, rows: rowsAt, positions: at.map((x) => x.r.sources), kind: 'replace', value: meanTensors[l]! });
        interventions.push({ site, rows: rowsAt, positions: at.map((x) => x.r.others), kind: 'copyRow', fromRow: 0 });
      }
      chunk.forEach((r, k) => { if (r.method === 'cut') cuts.push({ layers: windowLayers(r.layer, window, nLayer), rows: [first + k], sources: r.sources, targets: [T - 1] }); });
      return { interventions, cuts };
    });
  } finally {
    meanTensors.forEach((t: Tensor) => t.dispose());
  }
  const curves: KnockoutCurve[] = [];
  for (let i = 0; i < rows.length; i += nLayer) {
    const r = rows[i]!, pr = Array.from(knocked.subarray(i, i + nLayer));
    curves.push({ method: r.method, set: r.set, positions: r.sources, probs: pr, relative: pr.map((x) => (x - clean) / clean) });
  }
  return { prompt: p.text, subject: fact.subject, tokens: p.tokens, subjectRange: [p.subject.start, p.subject.end], answer: { id: answer, text: tok.decode([answer]) }, p: clean, curves };
}
