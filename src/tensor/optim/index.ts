/** Optimisation helpers shared by ROME's v* search and model training. */
export { AdamW, type AdamWOptions } from './adamw.js';
export { warmupCosine, type WarmupCosineOptions } from './schedule.js';
export { clipGradNorm, clipGradNormOnDevice, gradClipScale, globalNorm } from './clip.js';
