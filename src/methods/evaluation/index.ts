export { scoreTargets, scoreCase, summarize, type TargetScore, type CaseScores, type CounterFactSummary } from './counterfact.js';
export { wordTokens, ngramEntropy, textEntropy, fluency } from './fluency.js';
export { TfIdf, tfidfTerms, consistency, buildReferences, type ReferenceSet } from './consistency.js';
export { generationMetrics, type GenerationMetrics } from './generation.js';
