import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageSixRows, collapseSixRows, normalise, sixRowTokens } from './aggregate.js';
import type { FactTrace } from './types.js';

// Token t at layer l holds 10·t + l, so each collapsed row shows which tokens it averaged.
const matrix = (n: number, L = 2) => Array.from({ length: n }, (_, t) => Array.from({ length: L }, (_, l) => 10 * t + l));

function fact(n: number, range: [number, number], high = 1, low = 0, L = 2): FactTrace {
  return { prompt: '', subject: '', corruption: 'swap', tokens: new Array<string>(n).fill('x'), subjectRange: range,
    answer: { id: 0, text: '' }, high, low, sites: [{ name: 'residual', site: 'hook_resid_post', window: 1, scores: matrix(n, L) }] };
}

test('six rows of a prompt with prefix, a four-token subject and further tokens', () => {
  // tokens: 0 1 | 2 3 4 5 | 6 7 | 8   (subject 2..5, last token 8)
  assert.deepEqual(sixRowTokens(9, [2, 6]), {
    prefix: [0, 1], 'subject_[:-2]': [2, 3], subject_2nd_last: [4], subject_last: [5], further_tokens: [6, 7], last_token: [8],
  });
  assert.deepEqual(collapseSixRows(matrix(9), [2, 6]), [[5, 6], [25, 26], [40, 41], [50, 51], [65, 66], [80, 81]]);
});

test('a single-token subject at the start of the prompt leaves its empty rows out, without NaN', () => {
  // tokens: 0 (subject) | 1 2 | 3
  assert.deepEqual(sixRowTokens(4, [0, 1]), { prefix: [], 'subject_[:-2]': [], subject_2nd_last: [], subject_last: [0], further_tokens: [1, 2], last_token: [3] });
  assert.deepEqual(collapseSixRows(matrix(4), [0, 1]), [null, null, null, [0, 1], [15, 16], [30, 31]]);
  // A two-token subject right before the last token: no earlier subject tokens and no further tokens.
  assert.deepEqual(collapseSixRows(matrix(4), [1, 3]), [[0, 1], null, [10, 11], [20, 21], null, [30, 31]]);
  // A subject that ends the prompt is also its last token, as in romba.
  assert.deepEqual(collapseSixRows(matrix(3), [1, 3]), [[0, 1], null, [10, 11], [20, 21], null, [20, 21]]);
});

test('averages count, row by row, only the facts that have the row', () => {
  const avg = averageSixRows([fact(9, [2, 6]), fact(4, [0, 1])], 'residual');
  assert.deepEqual(avg.count, [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(avg.mean, [[5, 6], [25, 26], [40, 41], [25, 26], [40, 41], [55, 56]]);
  assert.equal(avg.mean.flat().some((v) => Number.isNaN(v)), false);
  const none = averageSixRows([fact(4, [0, 1])], 'residual');
  assert.deepEqual(none.mean.slice(0, 3), [null, null, null]);
  assert.deepEqual(none.count, [0, 0, 0, 1, 1, 1]);
});

test('the indirect effect subtracts low; romba\'s aggregate does not', () => {
  assert.equal(normalise(0.5, 0.9, 0.1, 'ie'), 0.5);
  assert.equal(normalise(0.5, 0.9, 0.1, 'romba'), 0.625);
  assert.equal(normalise(0.1, 0.9, 0.1, 'ie'), 0);
  assert.equal(normalise(0.9, 0.9, 0.1, 'ie'), 1);
  // p = 10t + l with high 40, low 20: ie = (p − 20)/20, romba = p/20.
  const f = fact(4, [1, 2], 40, 20);
  assert.deepEqual(averageSixRows([f], 'residual', 'ie').mean[3], [-0.5, -0.45]);
  assert.deepEqual(averageSixRows([f], 'residual', 'romba').mean[3], [0.5, 0.55]);
});

test('facts whose corruption did not lower p(answer) are left out and counted', () => {
  const avg = averageSixRows([fact(4, [1, 2], 0.2, 0.3), fact(4, [1, 2], 0.2, 0.2), fact(4, [1, 2])], 'residual');
  assert.equal(avg.excluded, 2);
  assert.deepEqual(avg.count, [1, 0, 0, 1, 1, 1]);
});
