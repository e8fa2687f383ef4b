import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/creation.js';
import { indexSelect } from '../../tensor/ops/shape/index-select.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import type { ForwardStart, LanguageModel } from '../../models/model.js';
import { pastAt, type LayerCapture, type OwnedPast } from '../../models/mamba-past.js';
import type { MambaConfig } from '../../io/config/config.js';
import type { TraceInput } from './types.js';

// What a patched pass takes over from the baseline pass instead of computing it: the residual stream entering a
// row's first patched layer (ForwardStart and its joins), and in Mamba the states at the pass's first patched
// position (MambaPast).

const PAST_BUDGET_BYTES = 4 * 2 ** 30;

/** Whether position reuse applies (Mamba) and its cache of states fits the budget (see EngineOptions.reusePositions). */
export function pastFits(model: LanguageModel, input: TraceInput): boolean {
  const c = model.config;
  if (c.arch !== 'mamba') return false;
  return 4 * (1 + (input.noise?.length ?? 1)) * input.T * c.nLayer * c.dInner * (c.dState + 1) <= PAST_BUDGET_BYTES;
}

/**
 * The start of a pass whose row r first changes at layer firstLayer[r] (non-decreasing; row 0 the pass's start):
 * the rows of the start layer, then each later run of rows joining at its own layer, each from the cached residual
 * entering that layer (`residuals`, rows clean and corrupted) of its source row (sources[r] + 1), from `position`
 * on. The caller disposes the residuals.
 */
export function startOf(residuals: readonly Tensor[], T: number, position: number, sources: readonly number[], firstLayer: readonly number[]): ForwardStart {
  const d = residuals[0]!.shape[2]!, width = T - position;
  /** Rows [a, b) of the pass, gathered as (source row, position) pairs in one selection. */
  const rowsOf = (layer: number, a: number, b: number): Tensor => {
    const at = new Int32Array((b - a) * width);
    for (let r = a; r < b; r++) for (let t = position; t < T; t++) at[(r - a) * width + t - position] = (sources[r]! + 1) * T + t;
    const idx = tensor(at, [at.length]);
    const flat = reshape(residuals[layer]!, [-1, d]);
    const picked = indexSelect(flat, 0, idx);
    const out = reshape(picked, [b - a, width, d]);
    idx.dispose(); flat.dispose(); picked.dispose();
    return out;
  };
  const segments: { layer: number; a: number; b: number }[] = [];
  firstLayer.forEach((l, row) => { const last = segments.at(-1); if (last && last.layer === l) last.b = row + 1; else segments.push({ layer: l, a: row, b: row + 1 }); });
  const [first, ...later] = segments;
  return { layer: first!.layer, residual: rowsOf(first!.layer, first!.a, first!.b), joins: later.map(({ layer, a, b }) => ({ layer, residual: rowsOf(layer, a, b) })) };
}

/**
 * The past at one start position, cut once from the baseline's states for the consecutive passes that start there
 * (the clean and corrupted runs' rows; each pass picks its rows with MambaPast.rows).
 */
export class PastCache {
  private entry: { position: number; from: number; past: OwnedPast } | null = null;

  get(config: MambaConfig, layers: readonly LayerCapture[], position: number, from: number): OwnedPast {
    const e = this.entry;
    if (e && e.position === position && e.from <= from) return e.past;
    this.dispose();
    const past = pastAt(config, layers.map((c, l) => (l >= from ? c : undefined)), position);
    this.entry = { position, from, past };
    return past;
  }

  dispose(): void {
    this.entry?.past.dispose();
    this.entry = null;
  }
}

