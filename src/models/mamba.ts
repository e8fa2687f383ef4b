import type { Tensor } from '../tensor/tensor.js';
import type { MambaConfig } from '../io/config/config.js';
import { embedding } from '../tensor/ops/shape/embedding.js';
import { rmsnorm } from '../tensor/ops/norm/rmsnorm.js';
import { linear, linearSplit } from '../tensor/ops/linear/matmul.js';
import { reshape } from '../tensor/ops/shape/reshape.js';
import { causalConv1d } from '../tensor/ops/mamba/causal-conv1d.js';
import { selectiveScan } from '../tensor/ops/mamba/selective-scan.js';
import { negExp, silu } from '../tensor/ops/elementwise/unary.js';
import { add, mul, mulSilu } from '../tensor/ops/elementwise/binary.js';
import { zeros } from '../tensor/creation.js';
import { indexSelect } from '../tensor/ops/shape/index-select.js';
import { cutFlow } from './mamba-cuts.js';
import { checkPast } from './mamba-past.js';
import { FactlabError } from '../tensor/errors.js';
import { noHooks } from './hooks.js';
import type { ForwardOptions, LanguageModel, MambaPast } from './model.js';
import { MAMBA_SITES } from './sites.js';
import { Temps } from './temps.js';
import { checkIds, firstRows, floatMask, Joins, param, startResidual, unembedAs } from './common.js';

/**
 * Mamba-1 (Gu & Dao), computed as transformers' MambaForCausalLM computes it, with a hook site at every
 * intermediate of the block (see sites.ts). With an attention mask, padded positions are zeroed at the input of
 * in_proj and at the input of the scan, as transformers 5 does: left padding is then exact, since a zero input
 * leaves the state at zero.
 *
 * Flow cuts (`HookRunner.cuts`) are applied to the scan output before `mixer.hook_s` (see mamba-cuts.ts): the
 * hooks before it show the clean conv and scan inputs, and a cut target's conv output is recomputed from
 * `mixer.hook_x` without its sources, so a patch of `mixer.hook_conv` at a cut target does not reach its scan.
 *
 * With `past` (ForwardOptions) the conv is continued from the past conv inputs and the scan from the past state,
 * so the positions given continue an earlier run exactly.
 */
export class MambaModel implements LanguageModel {
  readonly sites = MAMBA_SITES;

  constructor(readonly config: MambaConfig, readonly params: ReadonlyMap<string, Tensor>) {}

  forward(ids: Tensor, opts: ForwardOptions = {}): Tensor {
    const c = this.config;
    checkIds(c, ids, opts.attentionMask);
    const hooks = opts.hooks ?? noHooks;
    const P = (n: string) => param(this.params, n);
    const [B, T] = ids.shape as [number, number];
    const past = opts.past;
    if (past) checkPast(c, past, B, opts.start?.layer ?? 0);
    const mask = opts.attentionMask ? floatMask(opts.attentionMask) : null;
    const maskCol = mask ? reshape(mask, [B, T, 1]) : null;
    const noConvBias = c.convBias ? null : zeros([c.dInner], { backend: ids.backend });
    const top = new Temps(hooks);
    let h = opts.start ? startResidual(c, ids, opts.start) : top.release(top.at('hook_embed', embedding(P('backbone.embeddings.weight'), ids)));
    const joins = new Joins(opts.start?.joins);
    for (let l = opts.start?.layer ?? 0; l < c.nLayer; l++) {
      h = joins.enter(l, h);
      // Rows that join at later layers (ForwardStart.joins) are not here yet: per-row inputs take the first Bl.
      const Bl = h.shape[0]!;
      const cuts = hooks.cuts?.(l, Bl, T) ?? [];
      // A cut recomputes its targets' conv and scan from position 0, which a continued run does not have.
      if (past && cuts.length > 0) throw new FactlabError('forward: flow cuts cannot be applied to a run continued from a past state; run the whole sequence');
      const t = new Temps(hooks);
      const maskL = maskCol && (Bl < B ? t.t(firstRows(maskCol, Bl)) : maskCol);
      const p = `backbone.layers.${l}.`, s = `blocks.${l}.`;
      const hIn = t.at(`${s}hook_resid_pre`, h);
      let u = t.t(rmsnorm(hIn, P(`${p}norm.weight`), c.eps));
      if (maskL) u = t.t(mul(u, maskL));
      u = t.at(`${s}hook_norm`, u);
      // x = u·W_aᵀ and z = u·W_gᵀ, W_a and W_g being the two row blocks of in_proj (so that a ROME edit of either is
      // an edit of in_proj), in one product with two outputs.
      const inW = P(`${p}mixer.in_proj.weight`), inB = c.projBias ? P(`${p}mixer.in_proj.bias`) : undefined;
      const D = c.dInner, N = c.dState, R = c.dtRank;
      const [xIn, zIn] = linearSplit(u, inW, [D, D], inB);
      const x = t.at(`${s}mixer.hook_x`, xIn!);
      const z = t.at(`${s}mixer.hook_z`, zIn!);
      const convW = t.t(reshape(P(`${p}mixer.conv1d.weight`), [D, c.dConv]));
      const convB = noConvBias ?? P(`${p}mixer.conv1d.bias`);
      const xw = P(`${p}mixer.x_proj.weight`);
      // x_proj's three maps of the activated x (Δ's low-rank input, B and C) in one product with three outputs.
      const xProj = (xa: Tensor) => linearSplit(xa, xw, [R, N, N]);
      const A = t.t(negExp(P(`${p}mixer.A_log`)));
      const Dskip = P(`${p}mixer.D`);
      const dtProj = (dt: Tensor, activation?: 'softplus') => linear(dt, P(`${p}mixer.dt_proj.weight`), P(`${p}mixer.dt_proj.bias`), activation);
      // This layer's past for the rows here: picked by past.rows, or the first Bl rows.
      const pastRows = past?.rows && (Bl < B ? t.t(firstRows(past.rows, Bl)) : past.rows);
      // With past.rows the conv and the scan read the past's rows in place; otherwise its first Bl rows are these.
      const pastOf = (list: MambaPast['conv']) => (pastRows || Bl === B ? list[l]! : t.t(firstRows(list[l]!, Bl)));
      const convPast = past && { past: { inputs: pastOf(past.conv), ...(pastRows && { rows: pastRows }) } };
      // Where nothing reads the conv's own output (no hook there, no flow cut), silu is applied in the same kernel.
      const xc = hooks.wants(`${s}mixer.hook_conv`) || cuts.length > 0 ? t.at(`${s}mixer.hook_conv`, causalConv1d(x, convW, convB, convPast)) : null;
      let xa = t.t(xc ? silu(xc) : causalConv1d(x, convW, convB, { ...convPast, activation: 'silu' }));
      if (maskL) xa = t.t(mul(xa, maskL));
      xa = t.at(`${s}mixer.hook_x_act`, xa);
      const [dtLow, bIn, cIn] = xProj(xa);
      const Bm = t.at(`${s}mixer.hook_B`, bIn!);
      const Cm = t.at(`${s}mixer.hook_C`, cIn!);
      // Where no hook reads Δ, the scan applies its softplus as it reads dt_proj's plain product.
      const rawDelta = !hooks.wants(`${s}mixer.hook_delta`);
      const delta = rawDelta
        ? t.t(dtProj(t.t(dtLow!)))
        : t.at(`${s}mixer.hook_delta`, dtProj(t.t(dtLow!), 'softplus'));
      let ssm: Tensor;
      const scanOpts = { ...(past && { initialState: pastOf(past.ssm), ...(pastRows && { initialRows: pastRows }) }), deltaSoftplus: rawDelta };
      if (hooks.wants(`${s}mixer.hook_ssm_state`)) {
        const [y, state] = selectiveScan(xa, delta, A, Bm, Cm, Dskip, { returnState: true, ...scanOpts });
        ssm = t.t(y);
        t.at(`${s}mixer.hook_ssm_state`, state);
      } else {
        ssm = t.t(selectiveScan(xa, delta, A, Bm, Cm, Dskip, scanOpts));
      }
      if (cuts.length > 0) {
        ssm = t.t(cutFlow(cuts, x, xc!, ssm, {
          conv: (xin) => causalConv1d(xin, convW, convB),
          scanInputs: (xcE, rows) => {
            const own: Tensor[] = [];
            const o = (z: Tensor) => { own.push(z); return z; };
            let u = o(silu(xcE));
            if (maskL) u = o(mul(u, o(indexSelect(maskL, 0, rows))));
            const [dl, b, cm] = xProj(u).map(o);
            return { u, delta: o(dtProj(dl!, 'softplus')), Bm: b!, Cm: cm!, dispose: () => own.forEach((z) => z.dispose()) };
          },
          scan: (u, dl, b, cm) => selectiveScan(u, dl, A, b, cm, Dskip),
        }));
      }
      ssm = t.at(`${s}mixer.hook_s`, ssm);
      // The gate g = silu(z) exists as a tensor only where its hook wants it; else s ⊙ silu(z) is one kernel.
      const gate = hooks.wants(`${s}mixer.hook_g`) ? mul(ssm, t.at(`${s}mixer.hook_g`, silu(z))) : mulSilu(ssm, z);
      const gated = t.at(`${s}mixer.hook_gated`, gate);
      const o = t.at(`${s}hook_mixer_out`, linear(gated, P(`${p}mixer.out_proj.weight`), c.projBias ? P(`${p}mixer.out_proj.bias`) : undefined));
      h = t.release(t.at(`${s}hook_resid_post`, add(hIn, o)));
      t.dispose();
    }
    h = joins.enter(c.nLayer, h);
    top.t(h);
    const hf = top.at('hook_norm_final', rmsnorm(h, P('backbone.norm_f.weight'), c.eps));
    const head = c.tieEmbeddings ? P('backbone.embeddings.weight') : P('lm_head.weight');
    const logits = unembedAs(opts.logits, hf, head);
    top.dispose();
    mask?.dispose(); maskCol?.dispose(); noConvBias?.dispose();
    return logits;
  }

  unembed(h: Tensor): Tensor {
    const P = (n: string) => param(this.params, n);
    const hf = rmsnorm(h, P('backbone.norm_f.weight'), this.config.eps);
    const logits = linear(hf, this.config.tieEmbeddings ? P('backbone.embeddings.weight') : P('lm_head.weight'));
    hf.dispose();
    return logits;
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
  }
}
