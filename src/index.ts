/** factlab: locate and edit factual associations in Mamba and transformer language models. */
export * from './tensor/index.js';
export * from './io/index.js';
export * from './models/index.js';
export * from './interventions/index.js';
