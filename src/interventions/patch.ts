import type { Tensor } from '../tensor/tensor.js';
import { FactlabError } from '../tensor/errors.js';
import { broadcastShapes, fmt, sameShape } from '../tensor/shape.js';
import { tensor } from '../tensor/creation.js';
import { where } from '../tensor/ops/shape/where.js';
import { slice } from '../tensor/ops/shape/slice.js';
import { add, mul } from '../tensor/ops/elementwise/binary.js';
import { canCopyRowsInPlace, copyRowsInPlace } from '../tensor/ops/shape/copy-rows.js';
import type { Intervention } from './types.js';

/**
 * The places an intervention selects, as a 0/1 array over [B, T] (T along axis `posAxis`). Rows and positions are
 * checked against the activation here, where B and T are known.
 */
function selectedPlaces(site: string, p: Intervention, x: Tensor, posAxis: number): Float32Array {
  const B = x.shape[0]!, T = x.shape[posAxis]!;
  const rows = p.rows ?? Array.from({ length: B }, (_, r) => r);
  const perRow = p.positions !== undefined && p.positions.length > 0 && Array.isArray(p.positions[0]);
  if (perRow && p.positions!.length !== rows.length) {
    throw new FactlabError(`intervention at ${site}: ${p.positions!.length} position lists for ${rows.length} rows (give one list per row, or one list for all)`);
  }
  const mask = new Float32Array(B * T);
  rows.forEach((r, i) => {
    if (!Number.isInteger(r) || r < 0 || r >= B) throw new FactlabError(`intervention at ${site}: row ${r} is outside the batch of ${B}`);
    const positions = p.positions === undefined ? null : perRow ? (p.positions[i] as readonly number[]) : (p.positions as readonly number[]);
    if (positions === null) { mask.fill(1, r * T, r * T + T); return; }
    for (const t of positions) {
      const at = t < 0 ? t + T : t;
      if (!Number.isInteger(at) || at < 0 || at >= T) throw new FactlabError(`intervention at ${site}: position ${t} is outside the ${T} tokens of the prompt`);
      mask[r * T + at] = 1;
    }
  });
  return mask;
}

/** The places as a mask shaped to broadcast against the activation: [B, T, 1, ...] (or [B, 1, T, 1] when positions are axis 2). */
function maskTensor(places: Float32Array, x: Tensor, posAxis: number): Tensor {
  const shape = x.shape.map((d, i) => (i === 0 ? d : i === posAxis ? d : 1));
  return tensor(places, shape, { backend: x.backend });
}

/**
 * copyRow in place, where the activation allows it (copyRowsInPlace): each selected (row, position) takes the
 * source row's values there, and nothing else of the activation is read or written. Null where it is not allowed.
 */
function copyInPlace(places: Float32Array, fromRow: number, x: Tensor, posAxis: number): Tensor | null {
  if (posAxis !== 1 || !canCopyRowsInPlace(x)) return null;
  const T = x.shape[1]!, width = x.size / (x.shape[0]! * T);
  const from: number[] = [], to: number[] = [];
  places.forEach((v, i) => {
    if (v === 0 || Math.floor(i / T) === fromRow) return;
    from.push(fromRow * T + (i % T)); to.push(i);
  });
  return copyRowsInPlace(x, width, Int32Array.from(from), Int32Array.from(to));
}

function checkValue(site: string, value: Tensor, x: Tensor): void {
  const b = broadcastShapes(value.shape, x.shape);
  if (!b || !sameShape(b, x.shape)) throw new FactlabError(`intervention at ${site}: value of shape ${fmt(value.shape)} does not broadcast to the activation's shape ${fmt(x.shape)}`);
}

/** Applies one intervention to an activation; returns a new tensor and frees its own temporaries. */
export function applyIntervention(site: string, p: Intervention, x: Tensor, posAxis: number): Tensor {
  const places = selectedPlaces(site, p, x, posAxis);
  if (p.kind === 'copyRow') {
    const B = x.shape[0]!;
    if (!Number.isInteger(p.fromRow) || p.fromRow < 0 || p.fromRow >= B) throw new FactlabError(`intervention at ${site}: fromRow ${p.fromRow} is outside the batch of ${B}`);
    const done = copyInPlace(places, p.fromRow, x, posAxis);
    if (done) return done;
  }
  const m = maskTensor(places, x, posAxis);
  const temps: Tensor[] = [m];
  try {
    switch (p.kind) {
      case 'replace':
        checkValue(site, p.value, x);
        return where(m, p.value, x);
      case 'add': {
        checkValue(site, p.value, x);
        const sum = add(x, p.value);
        temps.push(sum);
        return where(m, sum, x);
      }
      case 'scale': {
        const scaled = mul(x, p.factor);
        temps.push(scaled);
        return where(m, scaled, x);
      }
      case 'copyRow': {
        // Not in place (a shared activation, or a gradient being taken): the source row as a view, broadcast over the batch by where: the mask selects only the rows copied to,
        // so no copy of the whole activation is made (tracing restores thousands of sites per fact).
        const src = slice(x, 0, p.fromRow, p.fromRow + 1);
        temps.push(src);
        return where(m, src, x);
      }
      case 'map': {
        const y = p.fn(x);
        if (!sameShape(y.shape, x.shape)) throw new FactlabError(`intervention at ${site}: the function returned shape ${fmt(y.shape)} for an activation of shape ${fmt(x.shape)}`);
        if (y !== x) temps.push(y);
        return where(m, y, x);
      }
      default:
        throw new FactlabError(`intervention at ${site}: unknown kind ${JSON.stringify((p as { kind: unknown }).kind)}`);
    }
  } finally {
    for (const t of temps) t.dispose();
  }
}
