export * from './config/index.js';
export * from './checkpoint/index.js';
export * from './tokenizer/index.js';
