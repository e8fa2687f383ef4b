export { loadFacts, isNontrivialPrefix, type Fact } from './facts.js';
export { predictNext, isKnown, type Prediction } from './known.js';
