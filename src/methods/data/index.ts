export { loadFacts, isNontrivialPrefix, type Fact } from './facts.js';
export { predictNext, isKnown, type Prediction } from './known.js';
export { templateOf, fillTemplate, matchTemplate } from './templates.js';
