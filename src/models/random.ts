import type { Tensor } from '../tensor/tensor.js';
import { randn, tensor } from '../tensor/creation.js';
import { Rng } from '../tensor/random.js';
import type { ModelConfig } from '../io/config/config.js';
import { paramSpecs } from './params.js';
import type { LanguageModel } from './model.js';
import { buildModel } from './build.js';

/**
 * A model with random weights from a seed, for tests and benchmarks when no checkpoint is at hand. Scales keep
 * activations of order one through many layers: weights ~ N(0, 1/fan_in), norms near 1, Mamba's A_log as
 * log(1..N) and Δ's bias near softplus⁻¹(0.01), as mamba_ssm initialises them.
 */
export function randomModel(config: ModelConfig, seed = 0): LanguageModel {
  const rng = new Rng(seed);
  const params = new Map<string, Tensor>();
  for (const s of paramSpecs(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const last = s.name.split('.').pop()!;
    const fanIn = s.shape.length > 1 ? s.shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    let t: Tensor;
    if (last === 'A_log') {
      const N = s.shape[1]!;
      t = tensor(Float32Array.from({ length: n }, (_, i) => Math.log(1 + (i % N)) + 0.1 * rng.normal()), s.shape);
    } else if (s.name.endsWith('dt_proj.bias')) {
      t = tensor(Float32Array.from({ length: n }, () => Math.log(Math.expm1(0.001 + 0.05 * rng.uniform()))), s.shape);
    } else if (/norm(_f)?\.weight$|layernorm\.weight$|final_layer_norm\.weight$/.test(s.name)) {
      t = tensor(Float32Array.from({ length: n }, () => 1 + 0.1 * rng.normal()), s.shape);
    } else if (s.shape.length === 1) {
      t = randn(s.shape, rng.nextU32(), 0.05);
    } else {
      t = randn(s.shape, rng.nextU32(), s.name.includes('embed') ? 1 : 1 / Math.sqrt(fanIn));
    }
    params.set(s.name, t);
  }
  return buildModel(config, params);
}
