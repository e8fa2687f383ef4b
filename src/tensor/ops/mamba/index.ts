export * from './causal-conv1d.js';
export * from './selective-scan.js';
