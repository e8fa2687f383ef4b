import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { sharedPath } from '../../io/shared-data.js';
import { FactlabError } from '../../tensor/errors.js';

/** A relation of the LRE dataset (Hernandez et al.): ../shared/data/relations/<kind>/<name>.json. */
export interface Relation {
  /** The file's base name, e.g. "country_capital_city". */
  id: string;
  /** factual, commonsense, linguistic or bias (the folder). */
  kind: string;
  name: string;
  file: string;
  templates: string[];
  zeroShotTemplates: string[];
  samples: { subject: string; object: string }[];
}

/** The relations folder of the shared data (FACTLAB_SHARED_DATA or shared/data beside the checkout). */
export function relationsDir(): string {
  return sharedPath('relations') ?? 'shared/data/relations';
}

function str(file: string, v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new FactlabError(`${file}: ${what} must be a non-empty string`);
  return v;
}

export function loadRelation(file: string): Relation {
  if (!existsSync(file)) throw new FactlabError(`${file}: no such relation file`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FactlabError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseRelation(file, j);
}

/** Checks a parsed relation file (`file` names it in errors). */
export function parseRelation(file: string, j: Record<string, unknown>): Relation {
  const templates = j.prompt_templates;
  if (!Array.isArray(templates) || templates.length === 0) throw new FactlabError(`${file}: prompt_templates must be a non-empty list`);
  templates.forEach((t, i) => { if (!str(file, t, `prompt_templates[${i}]`).includes('{}')) throw new FactlabError(`${file}: prompt_templates[${i}] has no {} for the subject`); });
  if (!Array.isArray(j.samples)) throw new FactlabError(`${file}: samples must be a list`);
  const samples = (j.samples as unknown[]).map((s, i) => {
    const o = s as Record<string, unknown>;
    return { subject: str(file, o?.subject, `samples[${i}].subject`), object: str(file, o?.object, `samples[${i}].object`) };
  });
  return {
    id: basename(file, '.json'), kind: basename(dirname(file)), name: typeof j.name === 'string' && j.name ? j.name : basename(file, '.json'), file,
    templates: templates as string[], zeroShotTemplates: Array.isArray(j.prompt_templates_zs) ? (j.prompt_templates_zs as string[]) : [], samples,
  };
}

/** Relation files under a relations folder (all kinds, or one). */
export function listRelations(dir: string, kind?: string): string[] {
  if (!existsSync(dir)) throw new FactlabError(`${dir}: no relations folder`);
  const kinds = kind ? [kind] : readdirSync(dir).filter((k) => statSync(join(dir, k)).isDirectory()).sort();
  return kinds.flatMap((k) => {
    const sub = join(dir, k);
    if (!existsSync(sub)) throw new FactlabError(`${dir}: no relation kind "${k}" (kinds: ${readdirSync(dir).join(', ')})`);
    return readdirSync(sub).filter((f) => f.endsWith('.json')).sort().map((f) => join(sub, f));
  });
}

/**
 * A relation by path, by "kind/name" or by name ("country_capital_city") inside the shared relations folder.
 */
export function findRelation(spec: string, dir = relationsDir()): Relation {
  if (spec.endsWith('.json') || existsSync(spec)) return loadRelation(spec);
  const all = listRelations(dir);
  const hit = all.find((f) => f.endsWith(`/${spec}.json`));
  if (!hit) throw new FactlabError(`unknown relation "${spec}" (relations in ${dir}: ${all.map((f) => basename(f, '.json')).join(', ')})`);
  return loadRelation(hit);
}
