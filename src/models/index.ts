export * from './model.js';
export * from './hooks.js';
export * from './sites.js';
export * from './params.js';
export * from './load.js';
export * from './build.js';
export { randomModel } from './random.js';
export { MambaModel } from './mamba.js';
export { GptNeoxModel } from './gptneox.js';
