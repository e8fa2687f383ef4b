export * from './rotary.js';
export * from './causal-attention.js';
