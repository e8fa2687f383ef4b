import type { Tensor } from '../tensor/tensor.js';
import { FactlabError } from '../tensor/errors.js';
import { tensor } from '../tensor/creation.js';
import { indexSelect } from '../tensor/ops/shape/index-select.js';
import { reshape } from '../tensor/ops/shape/reshape.js';
import { where } from '../tensor/ops/shape/where.js';
import { mul } from '../tensor/ops/elementwise/binary.js';
import type { EdgeCut } from './hooks.js';

/** The mixer's steps after the in_proj x-branch, as the cut recomputation needs them (no hooks, no padding). */
export interface MixerSteps {
  /** The causal convolution of the x-branch: [E, T, D] → [E, T, D]. */
  conv(x: Tensor): Tensor;
  /** Conv output → (u, delta, B, C) of the scan, u already masked for padding; `rows` maps each E row to its batch row. */
  scanInputs(xc: Tensor, rows: Tensor): { u: Tensor; delta: Tensor; Bm: Tensor; Cm: Tensor; dispose(): void };
  /** The selective scan (with its skip term D·u). */
  scan(u: Tensor, delta: Tensor, Bm: Tensor, Cm: Tensor): Tensor;
}

/**
 * The scan output y ([B, T, D]) with the flow of each cut's source tokens into its target removed, exactly:
 * the target's conv output leaves the sources' x out, and its scan output leaves out the sources' terms
 * C_i·(Π_{k=j+1..i} Ā_k)·B̄_j·u_j of the unrolled recurrence. Every other quantity keeps its clean value: the
 * sources' Δ_j still decay the state that other tokens put there, and a token k between source and target still
 * contributes its own clean u_k (its conv output may hold the source's x, but that is the path j → k → i through
 * k, not a direct edge j → i). A target among its own sources loses its own x in its convolution and its own
 * terms (B̄_i·u_i in the state and the skip D·u_i).
 *
 * Each cut target is recomputed as its own row of an expanded batch (E = number of cuts): its x-branch with the
 * sources zeroed feeds the convolution, whose output is taken at the target only; its scan input is zeroed at the
 * sources. Positions after the target do not affect it (causality), so one full-length scan per cut suffices.
 * The cost is E extra rows of the conv-to-scan chain, small next to the layer's matrix products for prompts.
 */
export function cutFlow(cuts: readonly EdgeCut[], x: Tensor, xc: Tensor, y: Tensor, steps: MixerSteps): Tensor {
  const [B, T, D] = x.shape as [number, number, number];
  const E = cuts.length;
  const rowOf = new Int32Array(E), keep = new Float32Array(E * T).fill(1), atTarget = new Float32Array(E * T);
  const place = new Int32Array(B * T), isTarget = new Float32Array(B * T);
  cuts.forEach((c, e) => {
    if (isTarget[c.row * T + c.target]) throw new FactlabError(`internal: two cut entries for row ${c.row}, position ${c.target}`);
    rowOf[e] = c.row;
    for (const j of c.sources) keep[e * T + j] = 0;
    atTarget[e * T + c.target] = 1;
    place[c.row * T + c.target] = e * T + c.target;
    isTarget[c.row * T + c.target] = 1;
  });
  const temps: Tensor[] = [];
  const t = (z: Tensor) => { temps.push(z); return z; };
  try {
    const be = x.backend;
    const rows = t(tensor(rowOf, [E], { backend: be }));
    const keepCol = t(tensor(keep, [E, T, 1], { backend: be })), targetCol = t(tensor(atTarget, [E, T, 1], { backend: be }));
    const xCut = t(mul(t(indexSelect(x, 0, rows)), keepCol));
    const xcE = t(where(targetCol, t(steps.conv(xCut)), t(indexSelect(xc, 0, rows))));
    const s = steps.scanInputs(xcE, rows);
    let yE: Tensor;
    try {
      yE = t(steps.scan(t(mul(s.u, keepCol)), s.delta, s.Bm, s.Cm));
    } finally {
      s.dispose();
    }
    const placed = t(reshape(t(indexSelect(t(reshape(yE, [E * T, D])), 0, t(tensor(place, [B * T], { backend: be })))), [B, T, D]));
    return where(t(tensor(isTarget, [B, T, 1], { backend: be })), placed, y);
  } finally {
    for (const z of temps) z.dispose();
  }
}
