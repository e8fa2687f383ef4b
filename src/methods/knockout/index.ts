export { knockoutFact, checkMethods, defaultMethods, KNOCKOUT_METHODS, type KnockoutMethod, type KnockoutOptions, type FactKnockout, type KnockoutCurve } from './knockout.js';
export { pathBlockFact, SEVERABLE, type FactPathBlocking, type PathBlockingOptions, type BlockedCurves } from './path-blocking.js';
export { knockoutDataset, type KnockoutDatasetOptions, type KnockoutSummary, type FactKnockoutResult } from './dataset.js';
export { meanActivations, type MeanOptions } from './means.js';
export { SOURCE_SETS, sourcePositions, parseSourceSets, type SourceSet } from './sources.js';
export { knockoutPrompt } from './prompt.js';
export { averageKnockout, averagePathBlocking, compareMethods, meanSe } from './aggregate.js';
export { knockoutChart, comparisonChart, pathBlockingChart } from './figures.js';
