import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { run } from '../../interventions/run.js';
import { FactlabError } from '../../tensor/errors.js';
import { solveSpd } from '../../tensor/linalg/cholesky.js';
import { matrix } from '../../tensor/linalg/dense.js';
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
 * u = C⁻¹k* ÷ ‖C⁻¹k*‖ by a Cholesky solve of C·x = k* (never an explicit inverse), or k* ÷ ‖k*‖ without C. A C that is
 * singular (too few tokens for its dimension) is reported with the ridge to add.
 */
/** `ridge` is relative: λ = ridge·mean(diag C) is added to C's diagonal. */
export function leftVector(kStar: Float64Array, mom2: Float64Array | null, ridge = 0): Float64Array {
  let u: Float64Array;
  if (mom2) {
    const n = kStar.length;
    if (mom2.length !== n * n) throw new FactlabError(`ROME: the second moment has ${mom2.length} entries, not ${n}×${n}`);
    try {
      let trace = 0;
      for (let i = 0; i < n; i++) trace += mom2[i * n + i]!;
      u = solveSpd(matrix(n, n, mom2), kStar, { ridge: (ridge * trace) / n });
    } catch (e) {
      throw new FactlabError(`ROME: cannot solve C·u = k* (${(e as Error).message}); gather statistics over more tokens, or set mom2Ridge`);
    }
  } else {
    u = Float64Array.from(kStar);
  }
  const norm = Math.hypot(...u);
  if (!(norm > 0) || !Number.isFinite(norm)) throw new FactlabError(`ROME: the left vector has norm ${norm}`);
  return u.map((x) => x / norm);
}
