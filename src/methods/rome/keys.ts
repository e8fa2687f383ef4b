import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { run } from '../../interventions/run.js';
import { FactlabError } from '../../tensor/errors.js';
import { cholesky, choleskySolve } from '../../tensor/linalg/cholesky.js';
import { matrix, type Matrix } from '../../tensor/linalg/dense.js';
import { locate, rightPadded, type Located } from './prompts.js';
import type { EditTarget } from './modules.js';

/** Each site's activation at each row's subject-last token (rows right-padded into one batch). */
export async function activationsAt(model: LanguageModel, tok: FactTokenizer, rows: readonly Located[], sites: readonly string[]): Promise<Map<string, Float64Array[]>> {
  const { ids, T } = rightPadded(rows.map((r) => r.ids), tok.padId ?? 0);
  const r = run(model, ids, { capture: [...sites], logits: 'last' });
  try {
    const out = new Map<string, Float64Array[]>();
    for (const site of sites) {
      const t = r.captures.get(site)!;
      const dim = t.shape[2]!;
      const data = await t.data();
      out.set(site, rows.map((row, b) => Float64Array.from(data.subarray((b * T + row.subjectLast) * dim, (b * T + row.subjectLast + 1) * dim))));
    }
    return out;
  } finally {
    r.dispose(); ids.dispose();
  }
}

/** k*: the mean key at the subject's last token over the context templates (ROME's compute_u, before whitening). */
export async function meanKey(model: LanguageModel, tok: FactTokenizer, target: EditTarget, contexts: readonly string[], prompt: string, subject: string): Promise<Float64Array> {
  const rows = contexts.map((c) => locate(tok, c, prompt, subject));
  const keys = (await activationsAt(model, tok, rows, [target.keySite])).get(target.keySite)!;
  const k = new Float64Array(target.keyDim);
  for (const row of keys) for (let i = 0; i < k.length; i++) k[i] += row[i]! / keys.length;
  return k;
}

/**
 * The Cholesky factor of C + λI, with λ = ridge·mean(diag C) (`ridge` is relative). Every edit of one layer and
 * module solves with the same C, so callers factor it once and keep the factor (as ROME keeps C⁻¹): at Mamba-2.8b's
 * W_o, C is 5120×5120 and its factorisation takes seconds on the host. A singular C (too few tokens for its
 * dimension) is reported with the ridge to add.
 */
export function momentFactor(mom2: Float64Array, n: number, ridge = 0): Matrix {
  if (mom2.length !== n * n) throw new FactlabError(`ROME: the second moment has ${mom2.length} entries, not ${n}×${n}`);
  let trace = 0;
  for (let i = 0; i < n; i++) trace += mom2[i * n + i]!;
  try {
    return cholesky(matrix(n, n, mom2), { ridge: (ridge * trace) / n });
  } catch (e) {
    throw new FactlabError(`ROME: cannot solve C·u = k* (${(e as Error).message}); gather statistics over more tokens, or set mom2Ridge`);
  }
}

/**
 * u = C⁻¹k* ÷ ‖C⁻¹k*‖ by a Cholesky solve of C·x = k* (never an explicit inverse), or k* ÷ ‖k*‖ without C. `c` is C
 * itself (factored here, with the relative `ridge`) or its factor from `momentFactor`.
 */
export function leftVector(kStar: Float64Array, c: Float64Array | Matrix | null, ridge = 0): Float64Array {
  let u: Float64Array;
  if (c) {
    const n = kStar.length;
    const factor = c instanceof Float64Array ? momentFactor(c, n, ridge) : c;
    if (factor.rows !== n) throw new FactlabError(`ROME: the second moment's factor is ${factor.rows}×${factor.cols}, but the key has ${n} entries`);
    u = choleskySolve(factor, kStar);
  } else {
    u = Float64Array.from(kStar);
  }
  const norm = Math.hypot(...u);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new FactlabError(`ROME: the left vector has norm ${norm}`);
  return u.map((x) => x / norm);
}
