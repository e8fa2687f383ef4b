export * from './types.js';
export * from './run.js';
export { InterventionHooks, concreteSites } from './hook-runner.js';
export { applyIntervention } from './patch.js';
export { generate, type GenerateOptions } from './generate.js';
