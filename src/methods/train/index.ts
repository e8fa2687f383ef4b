export { trainLanguageModel, evaluateLoss, type TrainOptions, type TrainResult, type TokenStream } from './train.js';
export { replaceParam, decays } from './params.js';
export { SyntheticWorld, wordTokenizer, SYNTHETIC_RELATIONS, type SyntheticFact, type SyntheticRelation } from './synthetic.js';
export { trainedTinyModel, type TinyModelKind } from './tiny.js';
