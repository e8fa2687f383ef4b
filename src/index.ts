/** factlab: locate and edit factual associations in Mamba and transformer language models. */
export * from './tensor/index.js';
