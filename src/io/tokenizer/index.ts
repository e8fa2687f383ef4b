export { loadTokenizer, tokenizerFromJson } from './tokenizer.js';
export type { FactTokenizer, Encoded, EncodeOptions, DecodeOptions, TokenizerJsonOptions, Offset } from './tokenizer.js';
export { findSubjectSpan, subjectSpanInOffsets, tokenSpanForChars } from './span.js';
export type { TokenSpan, SubjectSpanOptions } from './span.js';
export { encodeBatch, shiftSpan, batchSubjectSpan } from './batch.js';
export type { EncodedBatch, BatchOptions } from './batch.js';
