import { FactlabError } from '../../tensor/errors.js';
import type { ModelConfig } from '../../io/config/config.js';

/** Which matrix ROME rewrites: Mamba's out_proj (W_o) or a half of in_proj (W_a: x rows, W_g: gate rows), or GPT-NeoX's MLP output. */
export type RomeMatrix = 'o' | 'a' | 'g' | 'mlp';

export const MAMBA_MATRICES: readonly RomeMatrix[] = ['o', 'a', 'g'];

/**
 * ROME's hyper-parameters (romba's hparams/ROME/mamba-3b.json and pythia-3b.json; paper-method.md §5). Names
 * follow ROME's JSON keys, in camel case.
 */
export interface RomeHparams {
  layer: number;
  matrix: RomeMatrix;
  vNumGradSteps: number;
  vLr: number;
  /** Weight of ‖δ‖/‖v_init‖² (not squared, as ROME). */
  vWeightDecay: number;
  /** ‖δ‖ ≤ clampNormFactor·‖v_init‖. */
  clampNormFactor: number;
  klFactor: number;
  /** Stop when the loss falls below this. */
  stopLoss: number;
  /** romba's extra stop: after step stopAfter, once the mean target probability exceeds stopProb. */
  stopProb: number;
  stopAfter: number;
  /** Use C⁻¹k (true) or k itself (false) as the left vector. */
  mom2Adjustment: boolean;
  /** Documents of the statistics corpus (ROME: 100,000 Wikipedia articles); fewer when the corpus has fewer. */
  mom2NSamples: number;
  /** Tokens per document at most (ROME truncates to the model's context; 2048). */
  mom2MaxLength: number;
  /** Stop the statistics after this many tokens (default: no limit). */
  mom2MaxTokens?: number;
  /** Relative ridge: mean(diag C)·mom2Ridge is added to C's diagonal before the solve (0, as ROME; raise it when
   *  too few or too uniform tokens leave C singular). */
  mom2Ridge: number;
  /** [length, count] pairs of sampled context templates (ROME: 10 of 5 tokens and 10 of 10). */
  contextLengths: [number, number][];
  contextTopK: number;
  /** romba counts the length in new tokens for Mamba and in total tokens (EOS included) for transformers. */
  contextLengthCounts: 'new' | 'total';
  contextSeed: number;
  klPrompt: string;
}

/**
 * The paper's defaults for a model: layer 15 on the 2.8b models (64-layer Mamba, 32-layer Pythia), as romba's
 * configs; for any other depth the layer at the same relative depth (15/64 of a Mamba, 15/32 of a GPT-NeoX).
 * Not the middle layer: in the tiny trained Mambas of the tests the subject is already looked up by the middle,
 * and edits there fail (docs/rome.md).
 */
export function defaultHparams(config: ModelConfig, overrides: Partial<RomeHparams> = {}): RomeHparams {
  const mamba = config.arch === 'mamba';
  const paperSize = (mamba && config.nLayer === 64 && config.dModel === 2560) || (!mamba && config.nLayer === 32 && config.dModel === 2560);
  const hp: RomeHparams = {
    layer: paperSize ? 15 : Math.round((config.nLayer * 15) / (mamba ? 64 : 32)),
    matrix: mamba ? 'o' : 'mlp',
    vNumGradSteps: 20, vLr: 0.5, vWeightDecay: 0.5, clampNormFactor: 3, klFactor: 0.0625,
    stopLoss: 5e-2, stopProb: 0.9, stopAfter: 12,
    mom2Adjustment: true, mom2NSamples: 100_000, mom2MaxLength: 2048, mom2Ridge: 0,
    contextLengths: [[5, 10], [10, 10]], contextTopK: 5, contextLengthCounts: mamba ? 'new' : 'total', contextSeed: 0,
    klPrompt: '{} is a',
    ...overrides,
  };
  checkHparams(config, hp);
  return hp;
}

export function checkHparams(config: ModelConfig, hp: RomeHparams): void {
  if (!Number.isInteger(hp.layer) || hp.layer < 0 || hp.layer >= config.nLayer) throw new FactlabError(`ROME: layer ${hp.layer} is outside 0..${config.nLayer - 1}`);
  const ok = config.arch === 'mamba' ? MAMBA_MATRICES.includes(hp.matrix) : hp.matrix === 'mlp';
  if (!ok) throw new FactlabError(`ROME: matrix "${hp.matrix}" does not exist in a ${config.arch} model (use ${config.arch === 'mamba' ? 'o, a or g' : 'mlp'})`);
  if (!Number.isInteger(hp.vNumGradSteps) || hp.vNumGradSteps < 1) throw new FactlabError(`ROME: vNumGradSteps must be a positive integer, got ${hp.vNumGradSteps}`);
  if (!hp.klPrompt.includes('{}')) throw new FactlabError(`ROME: klPrompt ${JSON.stringify(hp.klPrompt)} has no {} for the subject`);
}
