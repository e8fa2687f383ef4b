import { FactlabError } from '../../tensor/errors.js';
import { tensor, zeros } from '../../tensor/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { tidy, keep } from '../../tensor/lifetime.js';
import { valueAndGrad } from '../../tensor/autodiff.js';
import { exp } from '../../tensor/ops/elementwise/unary.js';
import { add, mul, sub } from '../../tensor/ops/elementwise/binary.js';
import { sum, mean } from '../../tensor/ops/reduce/sum.js';
import { logSoftmax } from '../../tensor/ops/reduce/softmax.js';
import { reshape } from '../../tensor/ops/shape/reshape.js';
import { indexSelect } from '../../tensor/ops/shape/index-select.js';
import { crossEntropy } from '../../tensor/ops/loss/cross-entropy.js';
import { AdamW } from '../../tensor/optim/adamw.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { run } from '../../interventions/run.js';
import { locate, rightPadded, targetIds } from './prompts.js';
import type { RomeHparams } from './hparams.js';
import type { EditTarget } from './modules.js';

export interface VStep {
  loss: number;
  nll: number;
  kl: number;
  weightDecay: number;
  /** Mean over rewriting prompts of the target's per-token geometric mean probability. */
  meanProb: number;
  deltaNorm: number;
}

export interface VResult {
  /** v* = v_init + δ. */
  vStar: Float64Array;
  vInit: Float64Array;
  delta: Float64Array;
  steps: VStep[];
}

/**
 * v*: the value that makes the model say the target (ROME's compute_v). A vector δ is added to the edited module's
 * output at the subject's last token of every rewriting prompt (context + prompt + target minus its last token) and
 * optimised with Adam against: the target's NLL (per token, averaged over prompts); klFactor·KL(p_now‖p_init) of
 * the next-token distribution at the subject's last token of "{subject} is a", which keeps the subject's other
 * properties; and vWeightDecay·‖δ‖/‖v_init‖². After each step ‖δ‖ is clamped to clampNormFactor·‖v_init‖.
 */
export async function computeV(model: LanguageModel, tok: FactTokenizer, target: EditTarget, hp: RomeHparams, contexts: readonly string[], prompt: string, subject: string, newObject: string): Promise<VResult> {
  const tgt = targetIds(tok, newObject);
  const rewrite = contexts.map((c) => {
    const l = locate(tok, c, prompt, subject);
    return { ids: [...l.ids, ...tgt.slice(0, -1)], subjectLast: l.subjectLast, promptLen: l.ids.length };
  });
  const kl = locate(tok, '{}', hp.klPrompt, subject);
  const rows = [...rewrite.map((r) => r.ids), kl.ids];
  const { ids, T } = rightPadded(rows, tok.padId ?? 0);
  const V = model.config.vocabSize;
  // Logit rows (flattened [B·T]) that predict each target token, and the KL row.
  const predRows = rewrite.flatMap((r, b) => tgt.map((_, j) => b * T + r.promptLen - 1 + j));
  const predIdx = tensor(Int32Array.from(predRows), [predRows.length]);
  const targets = tensor(Int32Array.from(rewrite.flatMap(() => tgt)), [predRows.length]);
  const klIdx = tensor(Int32Array.from([rewrite.length * T + kl.subjectLast]), [1]);
  const positions = [...rewrite.map((r) => [r.subjectLast]), [kl.subjectLast]];
  const site = target.valueSite;
  const lastResidual = `blocks.${model.config.nLayer - 1}.hook_resid_post`;
  const patch = (d: Tensor) => [{ site, kind: 'add' as const, value: d, positions }];
  // The unedited run gives v_init (the value at prompt 0's subject) and the KL reference distribution.
  const first = run(model, ids, { capture: [site] });
  const vInit = Float64Array.from((await first.captures.get(site)!.data()).subarray(rewrite[0]!.subjectLast * target.valueDim, (rewrite[0]!.subjectLast + 1) * target.valueDim));
  const klInit = keep(tidy(() => logSoftmax(indexSelect(reshape(first.logits, [rows.length * T, V]), 0, klIdx), -1)));
  first.dispose();
  const vNorm = Math.hypot(...vInit);
  const maxNorm = hp.clampNormFactor * vNorm;
  const wdScale = hp.vWeightDecay / (vNorm * vNorm || 1);
  let delta = keep(zeros([target.valueDim]));
  const opt = new AdamW([delta], { lr: hp.vLr });
  const steps: VStep[] = [];
  try {
    for (let it = 0; it < hp.vNumGradSteps; it++) {
      let parts: Tensor[] = [];
      const d = delta;
      const { value, grads } = valueAndGrad(() => {
        const r = run(model, ids, { interventions: patch(d), capture: [lastResidual], logits: 'none' });
        const [total, perToken, klTerm] = tidy(() => {
          // Only the rows the loss reads are unembedded (the final norm is row-wise): the gradient then never
          // fills a [rows·T, V] logit tensor, whose scatter and head product took most of a step on the CPU.
          const hidden = reshape(r.captures.get(lastResidual)!, [rows.length * T, model.config.dModel]);
          const perToken = crossEntropy(model.unembed(indexSelect(hidden, 0, predIdx)), targets, { reduction: 'none' });
          const lp = logSoftmax(model.unembed(indexSelect(hidden, 0, klIdx)), -1);
          const klTerm = sum(mul(exp(lp), sub(lp, klInit)));
          return [add(mean(perToken), mul(klTerm, hp.klFactor)), perToken, klTerm];
        });
        r.dispose();
        parts = [perToken!, klTerm!];
        return total!;
      }, [d]);
      const ce = Array.from(await parts[0]!.data()), klv = await parts[1]!.item();
      const base = await value.item();
      parts.forEach((t) => t.dispose()); value.dispose();
      const dData = Float64Array.from(await d.data());
      const dNorm = Math.hypot(...dData);
      const perPrompt = rewrite.map((_, b) => Math.exp(-ce.slice(b * tgt.length, (b + 1) * tgt.length).reduce((a, x) => a + x, 0) / tgt.length));
      const step: VStep = { loss: base + wdScale * dNorm, nll: ce.reduce((a, x) => a + x, 0) / ce.length, kl: klv, weightDecay: wdScale * dNorm, meanProb: perPrompt.reduce((a, x) => a + x, 0) / perPrompt.length, deltaNorm: dNorm };
      steps.push(step);
      if (!Number.isFinite(step.loss)) { grads[0]!.dispose(); throw new FactlabError(`ROME: the v* loss is ${step.loss} at step ${it}`); }
      // ROME stops before stepping, so v* is the δ of the last forward pass.
      if (step.loss < hp.stopLoss || it === hp.vNumGradSteps - 1 || (it > hp.stopAfter && step.meanProb > hp.stopProb)) { grads[0]!.dispose(); break; }
      // d‖δ‖/dδ = δ/‖δ‖, and 0 at δ = 0 (torch's subgradient), added here rather than through sqrt's infinite slope.
      const g = await grads[0]!.data();
      grads[0]!.dispose();
      const full = tensor(Float32Array.from(g, (x, i) => x + (dNorm > 0 ? (wdScale * dData[i]!) / dNorm : 0)), [target.valueDim]);
      const [next] = opt.step([d], [full]);
      full.dispose();
      // Project δ back into the ball of radius clampNormFactor·‖v_init‖.
      const nd = Float64Array.from(await next!.data());
      const nNorm = Math.hypot(...nd);
      delta.dispose();
      if (nNorm > maxNorm) {
        next!.dispose();
        delta = keep(tensor(Float32Array.from(nd, (x) => (x * maxNorm) / nNorm), [target.valueDim]));
      } else {
        delta = next!;
      }
    }
    const dFinal = Float64Array.from(await delta.data());
    return { vStar: vInit.map((v, i) => v + dFinal[i]!), vInit, delta: dFinal, steps };
  } finally {
    opt.dispose(); delta.dispose(); klInit.dispose();
    ids.dispose(); predIdx.dispose(); targets.dispose(); klIdx.dispose();
  }
}
