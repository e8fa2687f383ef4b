export type { Axes } from './axes.js';
export * from './sum.js';
export * from './max.js';
export * from './softmax.js';
