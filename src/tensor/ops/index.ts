/** Every op of the engine, by family; importing this module registers them all. */
export * from './elementwise/index.js';
export * from './reduce/index.js';
export * from './shape/index.js';
export * from './linear/index.js';
export * from './norm/index.js';
export * from './mamba/index.js';
export * from './attention/index.js';
export * from './loss/index.js';
export * from './optim/index.js';
