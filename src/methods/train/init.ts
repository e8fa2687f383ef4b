import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../tensor/creation.js';
import { Rng } from '../../tensor/random.js';
import type { ModelConfig } from '../../io/config/config.js';
import { paramSpecs } from '../../models/params.js';
import { buildModel } from '../../models/build.js';
import type { LanguageModel } from '../../models/model.js';

/**
 * Initial weights for training from scratch, as the reference implementations initialise them (randomModel's
 * scales keep activations of order one for tests, but with a tied unembedding its unit-variance embedding gives
 * logits of order √d and a first loss of forty nats):
 * - embeddings N(0, 0.02²); norm weights 1, biases 0;
 * - GPT-NeoX matrices N(0, 0.02²), and the two that write into the residual stream (attention.dense,
 *   dense_4h_to_h) scaled down by √(2·layers), as GPT-2 and GPT-NeoX do;
 * - Mamba as mamba_ssm: linear layers uniform in ±1/√fan_in (PyTorch's default), out_proj then scaled by
 *   1/√layers (rescale_prenorm_residual), A_log = log(1..N), D = 1, Δ's bias the inverse softplus of a Δ drawn
 *   log-uniformly in [0.001, 0.1], dt_proj's weight uniform in ±R^-½.
 */
export function trainingInit(config: ModelConfig, seed = 0): LanguageModel {
  const rng = new Rng(seed);
  const params = new Map<string, Tensor>();
  const L = config.nLayer;
  for (const s of paramSpecs(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const fanIn = s.shape.length > 1 ? s.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const last = s.name.split('.').slice(-2).join('.');
    const fill = (f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));
    const normal = (std: number) => fill(() => std * rng.normal());
    const uniform = (bound: number) => fill(() => bound * (2 * rng.uniform() - 1));
    let v: Float32Array;
    if (s.name.includes('embed')) v = normal(0.02);
    else if (/norm(_f)?\.weight$|layernorm\.weight$|final_layer_norm\.weight$/.test(s.name)) v = fill(() => 1);
    else if (s.name.endsWith('.bias') && !s.name.endsWith('dt_proj.bias')) v = fill(() => 0);
    else if (config.arch === 'gptneox') v = normal(/attention\.dense\.weight$|dense_4h_to_h\.weight$/.test(s.name) ? 0.02 / Math.sqrt(2 * L) : 0.02);
    else if (last === 'mixer.A_log') { const N = s.shape[1]!; v = fill((i) => Math.log(1 + (i % N))); }
    else if (last === 'mixer.D') v = fill(() => 1);
    else if (last === 'dt_proj.bias') {
      v = fill(() => {
        const dt = Math.max(1e-4, Math.exp(Math.log(1e-3) + rng.uniform() * (Math.log(0.1) - Math.log(1e-3))));
        return dt + Math.log(-Math.expm1(-dt));
      });
    } else if (last === 'dt_proj.weight') v = uniform(config.arch === 'mamba' ? config.dtRank ** -0.5 : 0);
    else if (last === 'out_proj.weight') v = uniform(1 / Math.sqrt(fanIn) / Math.sqrt(L));
    else v = uniform(1 / Math.sqrt(fanIn));
    params.set(s.name, tensor(v, s.shape));
  }
  return buildModel(config, params);
}
