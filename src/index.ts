/** factlab: locate and edit factual associations in Mamba and transformer language models. */
export * from './tensor/index.js';
export * from './io/index.js';
export * from './models/index.js';
export * from './interventions/index.js';
export { traceFact, traceDataset, averageSixRows, type TraceOptions, type FactTrace, type DatasetTraceOptions, type DatasetSummary } from './methods/tracing/index.js';
export * as tracing from './methods/tracing/index.js';
export { loadFacts, isKnown, predictNext, type Fact } from './methods/data/index.js';
export { RomeEditor, defaultHparams as romeHparams, type RomeRequest, type RomeHparams, type RomeMatrix, type RomeEdit } from './methods/rome/index.js';
export * as rome from './methods/rome/index.js';
export * as evaluation from './methods/evaluation/index.js';
export * as train from './methods/train/index.js';
export { loadCounterFact, type CounterFactCase } from './methods/data/counterfact.js';
export { wikitextCorpus, enwikiCorpus, textCorpus, corpusFromSpec, type Corpus } from './methods/data/corpus.js';
export { AdamW, warmupCosine, clipGradNorm, type AdamWOptions } from './tensor/optim/index.js';
export { knockoutFact, knockoutDataset, pathBlockFact, meanActivations, type KnockoutMethod, type SourceSet, type FactKnockout, type KnockoutSummary } from './methods/knockout/index.js';
export * as knockout from './methods/knockout/index.js';
