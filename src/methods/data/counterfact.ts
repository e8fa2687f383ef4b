import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';

/**
 * One CounterFact case as the shared copy holds it (EasyEdit's re-packaging of ROME's data): the rewrite prompt with
 * the subject filled in, one paraphrase, one neighbourhood prompt, and no relation id or generation prompts.
 */
export interface CounterFactCase {
  caseId: number;
  prompt: string;
  subject: string;
  targetTrue: string;
  targetNew: string;
  paraphrases: string[];
  neighbourhood: string[];
}

type Json = Record<string, unknown>;

function str(file: string, i: number, r: Json, key: string): string {
  const v = r[key];
  if (typeof v !== 'string' || v.length === 0) throw new FactlabError(`${file}: record ${i} has no "${key}" string`);
  return v;
}

/** ROME's own layout (requested_rewrite, paraphrase_prompts, neighborhood_prompts) or EasyEdit's flat one. */
function parseCase(file: string, i: number, r: Json): CounterFactCase {
  const rw = r.requested_rewrite as Json | undefined;
  if (rw) {
    const subject = str(file, i, rw, 'subject');
    const tmpl = str(file, i, rw, 'prompt');
    return {
      caseId: typeof r.case_id === 'number' ? r.case_id : i, prompt: tmpl.replace('{}', subject), subject,
      targetTrue: str(file, i, rw.target_true as Json, 'str'), targetNew: str(file, i, rw.target_new as Json, 'str'),
      paraphrases: (r.paraphrase_prompts as string[] | undefined) ?? [], neighbourhood: (r.neighborhood_prompts as string[] | undefined) ?? [],
    };
  }
  const c: CounterFactCase = {
    caseId: typeof r.case_id === 'number' ? r.case_id : i, prompt: str(file, i, r, 'prompt'), subject: str(file, i, r, 'subject'),
    targetTrue: str(file, i, r, 'ground_truth'), targetNew: str(file, i, r, 'target_new'),
    paraphrases: typeof r.rephrase_prompt === 'string' ? [r.rephrase_prompt] : [],
    neighbourhood: typeof r.locality_prompt === 'string' ? [r.locality_prompt] : [],
  };
  if (!c.prompt.includes(c.subject)) throw new FactlabError(`${file}: record ${i}: subject ${JSON.stringify(c.subject)} does not occur in prompt ${JSON.stringify(c.prompt)}`);
  // The neighbourhood prompt's answer is the case's true object (locality_ground_truth), as in ROME's data.
  if (typeof r.locality_ground_truth === 'string' && r.locality_ground_truth !== c.targetTrue) {
    throw new FactlabError(`${file}: record ${i}: locality_ground_truth ${JSON.stringify(r.locality_ground_truth)} differs from ground_truth ${JSON.stringify(c.targetTrue)}`);
  }
  return c;
}

const SPLITS = ['edit', 'train', 'val'];

/**
 * CounterFact cases from a file, or from the shared folder (its three splits, in the order edit, train, val, unless
 * `split` names one). Cases keep their file order; `sort` puts them in case_id order.
 */
export function loadCounterFact(path: string, opts: { split?: string; sort?: boolean } = {}): CounterFactCase[] {
  if (!existsSync(path)) throw new FactlabError(`CounterFact ${path} does not exist`);
  const files = statSync(path).isDirectory()
    ? (opts.split ? [opts.split] : SPLITS).map((s) => { const f = join(path, `counterfact-${s}.json`); if (!existsSync(f)) throw new FactlabError(`CounterFact folder ${path} has no counterfact-${s}.json`); return f; })
    : [path];
  const cases = files.flatMap((f) => {
    let json: unknown;
    try { json = JSON.parse(readFileSync(f, 'utf8')); } catch (e) { throw new FactlabError(`${f}: not JSON (${(e as Error).message})`); }
    if (!Array.isArray(json)) throw new FactlabError(`${f}: expected a list of cases`);
    return json.map((r, i) => parseCase(f, i, r as Json));
  });
  return opts.sort ? cases.sort((a, b) => a.caseId - b.caseId) : cases;
}
