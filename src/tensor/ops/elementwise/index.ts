export * from './binary.js';
export * from './unary.js';
