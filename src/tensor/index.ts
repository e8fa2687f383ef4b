/** The tensor engine's public API. */
export { Tensor } from './tensor.js';
export type { DType } from './dtype.js';
export type { Shape } from './shape.js';
export { FactlabError } from './errors.js';
export { tensor, zeros, ones, full, arange, randn, randUniform, type CreateOptions } from './creation.js';
export { Rng } from './random.js';
export { tidy, tidyAsync, keep, liveTensors } from './lifetime.js';
export { valueAndGrad, vjp, noGrad, type Vjp, type GradOptions } from './autodiff.js';
export { jacobian, type JacobianOptions } from './jacobian.js';
export { getBackend, setBackend, withBackend } from './backends/current.js';
export type { Backend, Storage } from './backends/backend.js';
export { cpuBackend } from './backends/cpu/cpu-backend.js';
export * from './ops/index.js';
export * as linalg from './linalg/index.js';
export { initWebGPU } from './backends/webgpu/webgpu-backend.js';
