/** The tensor engine's public API. */
export { Tensor } from './tensor.js';
export type { DType } from './dtype.js';
export type { Shape } from './shape.js';
export { FactlabError } from './errors.js';
export { tensor, zeros, ones, full, arange, randn, randUniform, type CreateOptions } from './creation.js';
export { Rng } from './random.js';
export { tidy, tidyAsync, keep, liveTensors } from './lifetime.js';
export { valueAndGrad, vjp, jacobian, noGrad, type Vjp, type GradOptions, type JacobianOptions } from './autodiff.js';
export { getBackend, setBackend, withBackend } from './backends/current.js';
export type { Backend, Storage } from './backends/backend.js';
export { cpuBackend } from './backends/cpu/cpu-backend.js';
export * from './ops/index.js';
