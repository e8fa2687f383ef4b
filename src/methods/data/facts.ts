import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { FactlabError } from '../../tensor/errors.js';
import { parseRelation } from './relations.js';

/** One factual statement: a prompt that names the subject, and the object it should be completed with. */
export interface Fact {
  /** Stable within its data set ('country_capital_city/3', 'known/17', '12'): it names cache files and seeds. */
  key: string;
  subject: string;
  prompt: string;
  object: string;
  /** Facts of one relation are each other's alternatives in subject-swap corruption. */
  relation?: string;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(file: string, what: string): never {
  throw new FactlabError(`bad dataset file ${file}: ${what}`);
}

function str(file: string, where: string, rec: Json, names: string[]): string {
  for (const n of names) if (typeof rec[n] === 'string' && (rec[n] as string).length > 0) return rec[n] as string;
  return bad(file, `${where} has no ${names.map((n) => `"${n}"`).join(' or ')} string`);
}

/** The prompt of a template ('{} is located in'); romba and ROME fill the first {} only. */
function fill(file: string, where: string, template: string, subject: string): string {
  if (!template.includes('{}')) bad(file, `${where}: template ${JSON.stringify(template)} has no {} for the subject`);
  return template.replace('{}', subject);
}

function checked(file: string, where: string, f: Fact): Fact {
  if (!f.prompt.includes(f.subject)) bad(file, `${where}: subject ${JSON.stringify(f.subject)} does not occur in prompt ${JSON.stringify(f.prompt)}`);
  return f;
}

/** An LRE relation file (Hernandez et al.): {name, prompt_templates, samples: [{subject, object}]}; template 0 is used. */
function relationFacts(file: string, json: Json, relation: string): Fact[] {
  const { templates, samples } = parseRelation(file, json);
  return samples.map(({ subject, object }, i) => checked(file, `sample ${i}`, { key: `${relation}/${i}`, subject, prompt: fill(file, `sample ${i}`, templates[0]!, subject), object, relation }));
}

/** ROME's known_1000 records ({known_id, subject, attribute, prompt, relation_id}) or a user's {subject, prompt or template, object}. */
function recordFacts(file: string, records: unknown[], prefix: string): Fact[] {
  return records.map((r, i) => {
    const where = `record ${i}`;
    if (!isObject(r)) bad(file, `${where} is not an object`);
    const subject = str(file, where, r, ['subject']);
    const prompt = typeof r.prompt === 'string' ? r.prompt : fill(file, where, str(file, where, r, ['prompt', 'template']), subject);
    const object = str(file, where, r, ['object', 'attribute', 'target']);
    const relation = typeof r.relation === 'string' ? r.relation : typeof r.relation_id === 'string' ? r.relation_id : undefined;
    const id = typeof r.known_id === 'number' ? r.known_id : typeof r.id === 'string' || typeof r.id === 'number' ? r.id : i;
    return checked(file, where, { key: `${prefix}${id}`, subject, prompt, object, ...(relation ? { relation } : {}) });
  });
}

function parseFile(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.jsonl')) {
    return text.split('\n').flatMap((line, i) => {
      if (line.trim() === '') return [];
      try { return [JSON.parse(line) as unknown]; } catch { return bad(file, `line ${i + 1} is not JSON`); }
    });
  }
  try { return JSON.parse(text) as unknown; } catch (e) { return bad(file, `not JSON (${(e as Error).message})`); }
}

function fileFacts(file: string, relationName: string): Fact[] {
  const json = parseFile(file);
  if (isObject(json) && 'samples' in json) return relationFacts(file, json, relationName);
  if (Array.isArray(json)) return recordFacts(file, json, json.some((r) => isObject(r) && 'known_id' in r) ? 'known/' : '');
  return bad(file, 'expected an LRE relation ({prompt_templates, samples}), a list of records, or JSON lines of {subject, prompt or template, object}');
}

/**
 * Facts from a data set: an LRE relation file, a folder of them (../shared/data/relations, or one kind of it),
 * ROME's known_1000.json, or a user's JSON list or JSON lines of {subject, prompt or template, object} (with an
 * optional relation). Every problem is one error naming the file and the record.
 */
export function loadFacts(path: string): Fact[] {
  if (!existsSync(path)) throw new FactlabError(`dataset ${path} does not exist`);
  if (!statSync(path).isDirectory()) return fileFacts(path, basename(path).replace(/\.jsonl?$/, ''));
  const files: string[] = [];
  (function walk(dir: string) {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json')) files.push(p);
    }
  })(path);
  if (files.length === 0) throw new FactlabError(`dataset folder ${path} holds no .json relation files`);
  return files.flatMap((f) => fileFacts(f, relative(path, f).replace(/\.json$/, '')));
}

/**
 * romba's and LRE's test of a prediction (functional.is_nontrivial_prefix): lower-cased and stripped, it is a
 * non-empty prefix of the object.
 */
export function isNontrivialPrefix(prediction: string, object: string): boolean {
  const p = prediction.trim().toLowerCase();
  return p.length > 0 && object.trim().toLowerCase().startsWith(p);
}
