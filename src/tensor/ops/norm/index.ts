export { rmsnorm } from './rmsnorm.js';
export { layerNorm } from './layer-norm.js';
