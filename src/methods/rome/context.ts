import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { tensor } from '../../tensor/creation.js';
import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { generate } from '../../interventions/generate.js';
import type { RomeHparams } from './hparams.js';
import { decodeGenerated } from './prompts.js';

export type ContextOptions = Pick<RomeHparams, 'contextLengths' | 'contextTopK' | 'contextLengthCounts' | 'contextSeed'>;

/** ROME's clean-up of a sampled text: NFKD, no EOS, blank lines as spaces, braces as spaces (they would be slots). */
export function cleanContext(text: string, eos: string): string {
  return text.normalize('NFKD').replaceAll('\n\n', ' ').replaceAll(eos, '').replace(/[{}]/g, ' ');
}

/**
 * ROME's context templates: "{}" and, for each [length, count], `count` texts sampled top-k from the EOS token, each
 * followed by ". {}". Seeded; cached in `cacheDir` (per model id and settings) when given.
 */
export async function contextTemplates(model: LanguageModel, tok: FactTokenizer, o: ContextOptions, cache?: { dir: string; modelId: string }): Promise<string[]> {
  const file = cache ? join(cache.dir, cache.modelId, `context-templates.${o.contextLengths.map(([l, n]) => `${l}x${n}`).join('_')}.k${o.contextTopK}.${o.contextLengthCounts}.seed${o.contextSeed}.json`) : null;
  if (file && existsSync(file)) {
    try {
      const t = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      if (Array.isArray(t) && t.every((x) => typeof x === 'string' && x.includes('{}'))) return t as string[];
    } catch { /* a damaged cache is sampled again */ }
  }
  const eos = tok.eosId;
  if (eos === null) throw new FactlabError(`ROME: ${tok.source} has no EOS token to sample context templates from`);
  const eosText = tok.decode([eos]);
  const out = ['{}'];
  for (const [i, [length, count]] of o.contextLengths.entries()) {
    const steps = o.contextLengthCounts === 'new' ? length : length - 1;
    const ids = tensor(new Int32Array(count).fill(eos), [count, 1]);
    const rows = await generate(model, ids, { maxNewTokens: Math.max(0, steps), topK: o.contextTopK, seed: o.contextSeed * 1000 + i });
    ids.dispose();
    for (const r of rows) out.push(`${cleanContext(decodeGenerated(tok, [eos, ...r]), eosText)}. {}`);
  }
  if (file) {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(out));
    renameSync(`${file}.tmp`, file);
  }
  return out;
}
