import type { Tensor } from '../tensor/tensor.js';
import { FactlabError } from '../tensor/errors.js';
import { slice } from '../tensor/ops/shape/slice.js';
import { reshape } from '../tensor/ops/shape/reshape.js';
import { concat } from '../tensor/ops/shape/concat.js';
import type { MambaConfig } from '../io/config/config.js';
import type { MambaPast } from './model.js';

/** A run's captures of one layer: `mixer.hook_x` [B, T, D_inner] and `mixer.hook_ssm_state` [B, T, D_inner, N]. */
export interface LayerCapture {
  x: Tensor;
  ssm: Tensor;
}

export interface OwnedPast extends MambaPast {
  dispose(): void;
}

/**
 * The past at `position` (the state after position − 1) of a run whose captures `layers[l]` are given for the
 * layers that will be continued (the others may be undefined). It has the run's rows; `MambaPast.rows` lets a
 * batch continue any of them.
 */
export function pastAt(config: MambaConfig, layers: readonly (LayerCapture | undefined)[], position: number): OwnedPast {
  const conv: (Tensor | undefined)[] = [], ssm: (Tensor | undefined)[] = [];
  layers.forEach((c, l) => {
    if (!c) return;
    const T = c.x.shape[1]!;
    if (!Number.isInteger(position) || position < 1 || position > T) throw new FactlabError(`pastAt: position ${position} is outside 1..${T} (the captured run's tokens)`);
    conv[l] = slice(c.x, 1, Math.max(0, position - (config.dConv - 1)), position);
    ssm[l] = stateAfter(config, c.ssm, position);
  });
  return { conv, ssm, dispose: () => { for (const t of [...conv, ...ssm]) t?.dispose(); } };
}

/**
 * The past after a run's last position: its captures `layers[l]` (every layer), continuing `before` (the past the
 * run itself went on from, if any) for the conv inputs it needs from earlier positions. Generation carries it from
 * one token to the next.
 */
export function pastAfter(config: MambaConfig, layers: readonly LayerCapture[], before?: MambaPast): OwnedPast {
  const K = config.dConv - 1;
  const conv: Tensor[] = [], ssm: Tensor[] = [];
  layers.forEach((c, l) => {
    const T = c.x.shape[1]!;
    const prev = before?.conv[l];
    const all = prev && T < K ? concat([prev, c.x], 1) : c.x;
    const L = all.shape[1]!;
    conv[l] = slice(all, 1, Math.max(0, L - K), L);
    if (all !== c.x) all.dispose();
    ssm[l] = stateAfter(config, c.ssm, T);
  });
  return { conv, ssm, dispose: () => { for (const t of [...conv, ...ssm]) t.dispose(); } };
}

/** The SSM state after position − 1 of captured states [B, T, D_inner, N], as [B, D_inner, N]. */
function stateAfter(config: MambaConfig, states: Tensor, position: number): Tensor {
  const s = slice(states, 1, position - 1, position);
  const out = reshape(s, [s.shape[0]!, config.dInner, config.dState]);
  s.dispose();
  return out;
}

/** Checks `past` for the layers from `from` on, against the batch of `ids`; throws one error naming the layer. */
export function checkPast(config: MambaConfig, past: MambaPast, B: number, from: number): void {
  const D = config.dInner, N = config.dState;
  let R = B;
  if (past.rows) {
    const r = past.rows;
    if (r.dtype !== 'int32' || r.rank !== 1 || r.shape[0] !== B) throw new FactlabError(`forward: the past's rows ${r.describe()} must be int32 [${B}] (one past row per batch row)`);
    R = (past.conv[from] ?? past.ssm[from])?.shape[0] ?? 0;
  }
  const rows = past.rows ? `${R}` : `${B}`;
  for (let l = from; l < config.nLayer; l++) {
    const cv = past.conv[l], s = past.ssm[l];
    if (!cv || !s) throw new FactlabError(`forward: the past state has no ${cv ? 'SSM state' : 'conv input'} for layer ${l} (layers from ${from} on need one)`);
    if (cv.rank !== 3 || cv.shape[0] !== R || cv.shape[1]! > config.dConv - 1 || cv.shape[2] !== D) {
      throw new FactlabError(`forward: the past conv input of layer ${l} ${cv.describe()} must be [${rows}, k ≤ ${config.dConv - 1}, ${D}] (${past.rows ? 'the past\'s rows' : 'the batch'}, up to dConv − 1 positions, D_inner)`);
    }
    if (s.rank !== 3 || s.shape[0] !== R || s.shape[1] !== D || s.shape[2] !== N) {
      throw new FactlabError(`forward: the past SSM state of layer ${l} ${s.describe()} must be [${rows}, ${D}, ${N}] (${past.rows ? 'the past\'s rows' : 'the batch'}, D_inner, N)`);
    }
  }
}
