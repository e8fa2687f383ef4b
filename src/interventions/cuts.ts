import { FactlabError } from '../tensor/errors.js';
import type { ModelConfig } from '../io/config/config.js';
import type { EdgeCut } from '../models/hooks.js';
import type { Cut, Positions } from './types.js';

/** The positions of `list` meant for the i-th selected row, as given (validated later against T). */
function forRow(what: string, list: Positions, i: number, nRows: number): readonly number[] {
  const perRow = list.length > 0 && Array.isArray(list[0]);
  if (!perRow) return list as readonly number[];
  if (list.length !== nRows) throw new FactlabError(`cut: ${list.length} ${what} lists for ${nRows} rows (give one list per row, or one list for all)`);
  return list[i] as readonly number[];
}

function resolve(what: string, t: number, T: number): number {
  const at = t < 0 ? t + T : t;
  if (!Number.isInteger(at) || at < 0 || at >= T) throw new FactlabError(`cut: ${what} position ${t} is outside the ${T} tokens of the prompt`);
  return at;
}

/** Checks what can be checked before the batch is known: layers in range, rows and positions integers. */
export function checkCut(config: ModelConfig, c: Cut): void {
  if (!Array.isArray(c.layers) || c.layers.length === 0) throw new FactlabError('cut: layers must be a non-empty list of layer indices');
  for (const l of c.layers) {
    if (!Number.isInteger(l) || l < 0 || l >= config.nLayer) throw new FactlabError(`cut: layer ${l} is outside the model's ${config.nLayer} layers`);
  }
  if (!Array.isArray(c.sources)) throw new FactlabError('cut: sources must be a list of positions (or one list per row)');
}

/**
 * The cuts of one layer as the models take them: one entry per (row, target), the union of the sources every cut
 * gives it, only sources at or before the target, sorted. Rows and positions are checked against the batch here.
 */
export function layerCuts(cuts: readonly Cut[], layer: number, B: number, T: number): EdgeCut[] {
  const byKey = new Map<number, Set<number>>();
  for (const c of cuts) {
    if (!c.layers.includes(layer)) continue;
    const rows = c.rows ?? Array.from({ length: B }, (_, r) => r);
    rows.forEach((r, i) => {
      if (!Number.isInteger(r) || r < 0 || r >= B) throw new FactlabError(`cut: row ${r} is outside the batch of ${B}`);
      const sources = forRow('source', c.sources, i, rows.length).map((j) => resolve('source', j, T));
      const targets = c.targets === undefined ? [T - 1] : forRow('target', c.targets, i, rows.length).map((t) => resolve('target', t, T));
      for (const target of targets) {
        const key = r * T + target;
        const set = byKey.get(key) ?? new Set<number>();
        for (const j of sources) if (j <= target) set.add(j);
        byKey.set(key, set);
      }
    });
  }
  const out: EdgeCut[] = [];
  for (const [key, set] of [...byKey].sort((a, b) => a[0] - b[0])) {
    if (set.size > 0) out.push({ row: Math.floor(key / T), target: key % T, sources: [...set].sort((a, b) => a - b) });
  }
  return out;
}
