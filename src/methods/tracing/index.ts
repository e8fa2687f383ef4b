export * from './types.js';
export { resolveTraceSite, defaultSiteNames, windowLayers, DEFAULT_WINDOW, type TraceSite } from './sites.js';
export { prepareSwap, prepareNoise, type Prepared } from './prepare.js';
export { baseline, patchedProbs, forwardPatches, planBatches, type BatchPlan, type Patch, type Restore, type EngineOptions, type Baseline } from './engine.js';
export { traceFact, traceInput, tracePatches, prepareFact, resolveSites, factTrace, type TraceOptions, type FactQuery } from './trace.js';
export { sixRowTokens, collapseSixRows, averageSixRows, normalise, type SixRowAverage } from './aggregate.js';
export { traceDataset, type DatasetTraceOptions, type DatasetSummary } from './dataset.js';
export { factHeatmap, averageHeatmap, writeFigure } from './figures.js';
export { embeddingStd } from './embedding-std.js';
