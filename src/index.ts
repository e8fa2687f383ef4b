/** factlab: locate and edit factual associations in Mamba and transformer language models. */
export * from './tensor/index.js';
export * from './io/index.js';
export * from './models/index.js';
export * from './interventions/index.js';
export { traceFact, traceDataset, averageSixRows, type TraceOptions, type FactTrace, type DatasetTraceOptions, type DatasetSummary } from './methods/tracing/index.js';
export * as tracing from './methods/tracing/index.js';
export { loadFacts, isKnown, predictNext, type Fact } from './methods/data/index.js';
