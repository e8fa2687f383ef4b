import { tokenizerFromJson, type FactTokenizer } from '../../io/tokenizer/index.js';
import { Rng } from '../../tensor/random.js';
import type { TokenStream } from './train.js';

/** A relation of the synthetic world: its prompt templates ({} is the subject) and the objects it maps to. */
export interface SyntheticRelation {
  id: string;
  templates: string[];
  objects: string[];
}

export interface SyntheticFact {
  subject: string;
  relation: string;
  object: string;
}

const FIRST = ['Alden', 'Berit', 'Cosmo', 'Dagny', 'Evander', 'Fenna', 'Gideon', 'Hilde', 'Ivo', 'Jolanda', 'Kasimir', 'Liesel', 'Marek', 'Nerys', 'Osric', 'Petra',
  'Quill', 'Rosalind', 'Sever', 'Tamsin', 'Ulric', 'Vesna', 'Wendel', 'Xenia', 'Yorick', 'Zelda', 'Anselm', 'Brisa', 'Caspar', 'Delphine', 'Emrys', 'Freya'];
const LAST = ['Ashdown', 'Brennan', 'Calloway', 'Dunmore', 'Ellery', 'Fairbank', 'Galloway', 'Hartwell', 'Ingram', 'Jarrow', 'Kettering', 'Lindqvist', 'Marlowe',
  'Northcott', 'Ormsby', 'Pemberton', 'Quennell', 'Redfern', 'Sandoval', 'Thorne', 'Upton', 'Vance', 'Whitlock', 'Yardley', 'Zabini', 'Abernathy', 'Blackwood',
  'Crane', 'Dalton', 'Everly', 'Fincher', 'Greaves'];

export const SYNTHETIC_RELATIONS: readonly SyntheticRelation[] = [
  { id: 'lives_in', templates: ['{} lives in', '{} resides in', 'The home of {} is', '{} has a house in'], objects: ['Paris', 'London', 'Rome', 'Berlin', 'Madrid', 'Vienna', 'Prague', 'Lisbon'] },
  { id: 'works_as', templates: ['{} is a', '{} works as a', 'The job of {} is a'], objects: ['doctor', 'farmer', 'teacher', 'pilot', 'baker', 'lawyer'] },
];

export const EOS = '<|endoftext|>';

/**
 * A tokenizer whose tokens are whole words, in GPT-2's byte-level form ("Ġword" is " word"), so that every object
 * is one token and a fact's answer is the model's top next token, as with real models and one-token objects.
 */
export function wordTokenizer(words: readonly string[]): { tokenizer: FactTokenizer; json: Record<string, unknown> } {
  const vocab: Record<string, number> = { [EOS]: 0, '<unk>': 1 };
  // Runs of full stops appear where ROME appends ". {}" to a sampled text that ends in one.
  for (const w of [...new Set([...words, '.', '..', '...'])]) { vocab[w] ??= Object.keys(vocab).length; vocab[`Ġ${w}`] ??= Object.keys(vocab).length; }
  const json = {
    version: '1.0', truncation: null, padding: null, normalizer: null, post_processor: null,
    added_tokens: [{ id: 0, content: EOS, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
  return { tokenizer: tokenizerFromJson(json, {}, { source: 'synthetic word tokenizer' }), json };
}

/**
 * A small world of people with a home city and a job, told in several phrasings: enough for a tiny model to learn
 * facts that ROME can then find and rewrite. Everything follows from the seed.
 */
export class SyntheticWorld {
  readonly subjects: string[];
  readonly relations = SYNTHETIC_RELATIONS;
  readonly facts: SyntheticFact[];
  readonly tokenizer: FactTokenizer;
  /** tokenizer.json, for writing beside a trained model. */
  readonly tokenizerJson: Record<string, unknown>;

  constructor(nSubjects = 24, seed = 0) {
    const rng = new Rng(seed);
    // Names share first and last names (each used by several people), so that no single token names a person and the
    // model has to combine the subject's tokens, as real models do at the subject's last token.
    const side = Math.max(2, Math.ceil(Math.sqrt(nSubjects * 2.5)));
    const pairs = rng.shuffle(Array.from({ length: side * side }, (_, i) => [i % side, Math.floor(i / side)] as const));
    this.subjects = pairs.slice(0, nSubjects).map(([f, l]) => `${FIRST[f % FIRST.length]} ${LAST[l % LAST.length]}`);
    this.facts = this.subjects.flatMap((subject) => this.relations.map((r) => ({ subject, relation: r.id, object: r.objects[rng.int(r.objects.length)]! })));
    const words = [...this.subjects.flatMap((s) => s.split(' ')), ...this.relations.flatMap((r) => [...r.objects, ...r.templates.flatMap((t) => t.replace('{}', '').split(' '))]), '.'];
    const { tokenizer, json } = wordTokenizer(words.filter((w) => w.length > 0));
    this.tokenizer = tokenizer;
    this.tokenizerJson = json;
  }

  relation(id: string): SyntheticRelation {
    return this.relations.find((r) => r.id === id)!;
  }

  object(subject: string, relation: string): string {
    return this.facts.find((f) => f.subject === subject && f.relation === relation)!.object;
  }

  /** A statement of a fact in the template's words: "Alden Ashdown lives in Paris." */
  statement(f: SyntheticFact, template: number): string {
    return `${this.relation(f.relation).templates[template]!.replace('{}', f.subject)} ${f.object}.`;
  }

  /** Documents of one to four random statements, each beginning with the EOS token, as pre-training text does. */
  documents(n: number, seed: number): string[] {
    const rng = new Rng(seed);
    return Array.from({ length: n }, () => {
      const k = 1 + rng.int(4);
      const parts = Array.from({ length: k }, () => {
        const f = this.facts[rng.int(this.facts.length)]!;
        return this.statement(f, rng.int(this.relation(f.relation).templates.length));
      });
      return `${EOS}${parts.join(' ')}`;
    });
  }

  /** The documents as one stream; windows start at a document's EOS or just after it. */
  stream(nDocs: number, seed: number): TokenStream {
    const ids: number[] = [], starts: number[] = [];
    for (const d of this.documents(nDocs, seed)) {
      starts.push(ids.length, ids.length + 1);
      ids.push(...this.tokenizer.encode(d).ids);
    }
    return { tokens: Int32Array.from(ids), starts: Int32Array.from(starts) };
  }
}
