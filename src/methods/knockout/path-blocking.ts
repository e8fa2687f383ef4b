import { FactlabError } from '../../tensor/errors.js';
import type { LanguageModel } from '../../models/model.js';
import type { Intervention } from '../../interventions/types.js';
import type { Prepared } from '../tracing/prepare.js';
import { headProbs, patchedProbs, type HeadRows } from './batch.js';

/** The components path blocking severs, per architecture: the paper's s, g, o for Mamba; attention and MLP for GPT-NeoX. */
export const SEVERABLE: Record<'mamba' | 'gptneox', Record<string, string>> = {
  mamba: { s: 'mixer.hook_s', g: 'mixer.hook_g', o: 'hook_mixer_out' },
  gptneox: { attn: 'hook_attn_out', mlp: 'hook_mlp_out' },
};

export type BlockedToken = 'subject_last' | 'last';

export interface PathBlockingOptions {
  /** Components to sever (default: all of the architecture's). */
  components?: readonly string[];
  tokens?: readonly BlockedToken[];
  batchSize?: number;
}

export interface BlockedCurves {
  token: BlockedToken;
  /** The column in the clean row (padding included). */
  position: number;
  /** (p − low) / (high − low) with the clean residual restored at (token, layer): the plain trace. */
  restore: number[];
  /** The same, with the component also held at its corrupted value at the token in every layer. */
  severed: Record<string, number[]>;
}

export interface FactPathBlocking {
  answer: number;
  high: number;
  low: number;
  curves: BlockedCurves[];
}

interface Row { token: BlockedToken; position: number; layer: number; sever: string | null }

/**
 * The paper's path blocking (§7c, after ROME's severing): in the corrupted run (subject swapped), restore the
 * clean residual stream at (token, layer) while a component at that token is frozen, in every layer, at its value
 * in the corrupted run. Where severing a component takes away the restoration's effect, the restored state did its
 * work through that component. Scores are the indirect effect (p − low) / (high − low).
 */
export async function pathBlockFact(model: LanguageModel, prepared: Prepared, o: PathBlockingOptions = {}): Promise<FactPathBlocking> {
  const arch = model.config.arch;
  const table = SEVERABLE[arch];
  const components = o.components ?? Object.keys(table);
  for (const c of components) if (!(c in table)) throw new FactlabError(`path blocking: unknown component ${JSON.stringify(c)} for ${arch} (use ${Object.keys(table).join(', ')})`);
  const { input } = prepared;
  const nLayer = model.config.nLayer, T = input.T;
  const head: HeadRows = { ids: input.ids, mask: input.mask, T, head: 2 };
  const { answer, probs } = await headProbs(model, head);
  const high = probs[0]!, low = probs[1]!;
  const positions: Record<BlockedToken, number> = { subject_last: input.subject.end - 1, last: T - 1 };
  const rows: Row[] = [];
  for (const token of o.tokens ?? ['subject_last', 'last'] as const) {
    for (const sever of [null, ...components]) for (let layer = 0; layer < nLayer; layer++) rows.push({ token, position: positions[token], layer, sever });
  }
  const allLayers = Array.from({ length: nLayer }, (_, l) => l);
  const p = await patchedProbs(model, head, 1, answer, rows, o.batchSize ?? 32, (chunk, first) => {
    const interventions: Intervention[] = [];
    const at = chunk.map((r, k) => ({ r, b: first + k }));
    for (let l = 0; l < nLayer; l++) {
      const restore = at.filter(({ r }) => r.layer === l);
      if (restore.length) interventions.push({ site: `blocks.${l}.hook_resid_post`, rows: restore.map((x) => x.b), positions: restore.map((x) => [x.r.position]), kind: 'copyRow', fromRow: 0 });
    }
    for (const c of components) {
      const frozen = at.filter(({ r }) => r.sever === c);
      if (frozen.length) interventions.push({ site: table[c]!, layers: allLayers, rows: frozen.map((x) => x.b), positions: frozen.map((x) => [x.r.position]), kind: 'copyRow', fromRow: 1 });
    }
    return { interventions, cuts: [] };
  });
  const score = (x: number) => (x - low) / (high - low);
  const curves: BlockedCurves[] = [];
  for (let i = 0; i < rows.length; i += nLayer * (1 + components.length)) {
    const token = rows[i]!.token;
    const block = (k: number) => Array.from(p.subarray(i + k * nLayer, i + (k + 1) * nLayer), score);
    curves.push({ token, position: positions[token], restore: block(0), severed: Object.fromEntries(components.map((c, k) => [c, block(k + 1)])) });
  }
  return { answer, high, low, curves };
}
