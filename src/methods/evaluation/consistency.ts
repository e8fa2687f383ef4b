import type { Corpus } from '../data/corpus.js';

/** scikit-learn TfidfVectorizer's default analyser: lower case, tokens of two or more word characters. */
export function tfidfTerms(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]{2,}/gu) ?? [];
}

/**
 * TF-IDF as scikit-learn's TfidfVectorizer() computes it by default (raw counts, smooth idf ln((1+n)/(1+df)) + 1,
 * L2-normalised rows), fitted on a set of documents; terms never seen in fitting are dropped, as there.
 */
export class TfIdf {
  private constructor(readonly idf: ReadonlyMap<string, number>, readonly documents: number) {}

  static fit(docs: readonly string[]): TfIdf {
    const df = new Map<string, number>();
    for (const d of docs) for (const t of new Set(tfidfTerms(d))) df.set(t, (df.get(t) ?? 0) + 1);
    const n = docs.length;
    return new TfIdf(new Map([...df].map(([t, c]) => [t, Math.log((1 + n) / (1 + c)) + 1])), n);
  }

  static fromJson(j: { idf: [string, number][]; documents: number }): TfIdf {
    return new TfIdf(new Map(j.idf), j.documents);
  }

  toJson(): { idf: [string, number][]; documents: number } {
    return { idf: [...this.idf], documents: this.documents };
  }

  vector(text: string): Map<string, number> {
    const v = new Map<string, number>();
    for (const t of tfidfTerms(text)) { const w = this.idf.get(t); if (w !== undefined) v.set(t, (v.get(t) ?? 0) + w); }
    const norm = Math.hypot(...v.values());
    if (norm > 0) for (const [t, x] of v) v.set(t, x / norm);
    return v;
  }

  cosine(a: string, b: string): number {
    const va = this.vector(a), vb = this.vector(b);
    let s = 0;
    for (const [t, x] of va) s += x * (vb.get(t) ?? 0);
    return s;
  }
}

/**
 * Consistency (RS): the TF-IDF cosine between all generations joined and all reference texts about the new object
 * joined, as ROME's reference_score (which joins Wikipedia snippets of the new object's relation).
 */
export function consistency(tfidf: TfIdf, generations: readonly string[], references: readonly string[]): number {
  return references.length ? tfidf.cosine(generations.join(' '), references.join(' ')) : NaN;
}

export interface ReferenceSet {
  /** Documents read, for the idf. */
  idfDocuments: number;
  tfidf: TfIdf;
  /** Per object, sentences that mention it. */
  sentences: Map<string, string[]>;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Reference texts for consistency, since ROME's attribute snippets are not available here: from the first
 * `maxDocuments` documents of a corpus (Wikipedia), the first `perObject` sentences that name each object as a whole
 * word, and an idf fitted on those documents.
 */
export async function buildReferences(corpus: Corpus, objects: readonly string[], o: { maxDocuments?: number; perObject?: number } = {}): Promise<ReferenceSet> {
  const maxDocs = o.maxDocuments ?? 2000, per = o.perObject ?? 30;
  const want = [...new Set(objects)].map((ob) => ({ ob, re: new RegExp(`(?<![\\p{L}\\p{N}])${escape(ob)}(?![\\p{L}\\p{N}])`, 'u') }));
  const sentences = new Map(want.map((w) => [w.ob, [] as string[]]));
  const docs: string[] = [];
  for await (const d of corpus.documents()) {
    if (docs.length >= maxDocs) break;
    docs.push(d);
    const open = want.filter((w) => sentences.get(w.ob)!.length < per && d.includes(w.ob));
    if (open.length === 0) continue;
    for (const s of d.split(/(?<=[.!?])\s+|\n+/)) {
      for (const w of open) { const list = sentences.get(w.ob)!; if (list.length < per && w.re.test(s)) list.push(s.trim()); }
    }
  }
  return { idfDocuments: docs.length, tfidf: TfIdf.fit(docs), sentences };
}
