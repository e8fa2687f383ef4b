import type { LanguageModel } from '../../models/model.js';
import type { FactTokenizer } from '../../io/tokenizer/tokenizer.js';
import { FactlabError } from '../../tensor/errors.js';
import type { Corpus } from '../data/corpus.js';
import { checkHparams, defaultHparams, type RomeHparams, type RomeMatrix } from './hparams.js';
import { editTarget, type EditTarget } from './modules.js';
import { contextTemplates } from './context.js';
import { secondMoments, type SecondMoment, type StatsOptions } from './stats.js';
import { activationsAt, leftVector, meanKey, momentFactor } from './keys.js';
import type { Matrix } from '../../tensor/linalg/dense.js';
import { computeV, type VResult } from './values.js';
import { locate, type RomeRequest } from './prompts.js';
import { applyUpdate, type AppliedUpdate, type RankOneUpdate } from './update.js';
import { modelFingerprint } from './fingerprint.js';

export interface RomeEditorOptions {
  /** Overrides of the paper's defaults (defaultHparams). */
  hparams?: Partial<RomeHparams>;
  /** The text C = E[kkᵀ] is estimated on (needed unless mom2Adjustment is off). */
  corpus?: Corpus;
  /** Statistics and context templates are cached here per model. */
  cacheDir?: string;
  /** Names the model in caches (default: a content hash of its weights, taken before any edit). */
  modelId?: string;
  /** Use these context templates instead of sampling them. */
  contexts?: string[];
  batchTokens?: number;
  onStatsProgress?: StatsOptions['onProgress'];
}

/** Everything an edit computed: the rank-one update and the vectors it came from. */
export interface RomeComputation extends RankOneUpdate {
  request: RomeRequest;
  hparams: RomeHparams;
  kStar: Float64Array;
  kCur: Float64Array;
  vCur: Float64Array;
  v: VResult;
  /** Tokens behind C (0 without mom2 adjustment). */
  statsTokens: number;
}

export interface RomeEdit extends RomeComputation {
  applied: AppliedUpdate;
}

/**
 * ROME on one model: context templates and key statistics are gathered once (from the unedited weights, even when
 * edits are in force: they are lifted meanwhile and put back bit for bit), then each request becomes a rank-one
 * update of one matrix. Edits stack; revert() undoes the latest, revertAll() every one.
 */
export class RomeEditor {
  readonly hparams: RomeHparams;
  private readonly moments = new Map<string, SecondMoment>();
  /** Cholesky factors of C by key site and ridge: factored once, solved with by every edit there. */
  private readonly factors = new Map<string, Matrix>();
  private contexts: string[] | null;
  private id: string | null;
  private readonly stack: RomeEdit[] = [];

  constructor(readonly model: LanguageModel, readonly tok: FactTokenizer, private readonly opts: RomeEditorOptions = {}) {
    this.hparams = defaultHparams(model.config, opts.hparams);
    this.contexts = opts.contexts ?? null;
    this.id = opts.modelId ?? null;
  }

  get edits(): readonly RomeEdit[] { return this.stack; }

  async modelId(): Promise<string> {
    return (this.id ??= await this.unedited(() => modelFingerprint(this.model)));
  }

  async contextTemplates(): Promise<string[]> {
    if (this.contexts) return this.contexts;
    const cache = this.opts.cacheDir ? { dir: this.opts.cacheDir, modelId: await this.modelId() } : undefined;
    return (this.contexts = await this.unedited(() => contextTemplates(this.model, this.tok, this.hparams, cache)));
  }

  /** C for the key sites of several (layer, matrix) targets, in one pass over the corpus for those not yet known. */
  async prepareStats(targets: readonly { layer: number; matrix: RomeMatrix }[]): Promise<Map<string, SecondMoment>> {
    const sites = [...new Set(targets.map((t) => editTarget(this.model.config, t.layer, t.matrix).keySite))];
    const missing = sites.filter((s) => !this.moments.has(s));
    if (missing.length) {
      const corpus = this.opts.corpus;
      if (!corpus) throw new FactlabError('ROME: mom2 adjustment needs a corpus for the key statistics (or set mom2Adjustment false)');
      const hp = this.hparams;
      const modelId = this.opts.cacheDir ? await this.modelId() : undefined;
      const got = await this.unedited(() => secondMoments(this.model, this.tok, missing, {
        corpus, nSamples: hp.mom2NSamples, maxLength: hp.mom2MaxLength, maxTokens: hp.mom2MaxTokens, batchTokens: this.opts.batchTokens,
        cacheDir: this.opts.cacheDir, modelId, onProgress: this.opts.onStatsProgress,
      }));
      for (const [s, m] of got) this.moments.set(s, m);
    }
    // The factorisation belongs with the statistics: it is done once per layer and module, not per edit.
    for (const s of sites) this.factorOf(s, this.hparams.mom2Ridge);
    return new Map(sites.map((s) => [s, this.moments.get(s)!]));
  }

  private factorOf(site: string, ridge: number): Matrix {
    const key = `${site}|${ridge}`;
    let f = this.factors.get(key);
    if (!f) {
      const m = this.moments.get(site)!;
      this.factors.set(key, (f = momentFactor(m.mom2, Math.round(Math.sqrt(m.mom2.length)), ridge)));
    }
    return f;
  }

  /** The update for a request, without applying it (layer and matrix default to the editor's hyper-parameters). */
  async compute(request: RomeRequest, where: Partial<Pick<RomeHparams, 'layer' | 'matrix'>> = {}): Promise<RomeComputation> {
    const hp = { ...this.hparams, ...where };
    checkHparams(this.model.config, hp);
    const target: EditTarget = editTarget(this.model.config, hp.layer, hp.matrix);
    const contexts = await this.contextTemplates();
    const mom2 = hp.mom2Adjustment ? (await this.prepareStats([hp])).get(target.keySite)! : null;
    const kStar = await meanKey(this.model, this.tok, target, contexts, request.prompt, request.subject);
    const u = leftVector(kStar, mom2 ? this.factorOf(target.keySite, hp.mom2Ridge) : null);
    const v = await computeV(this.model, this.tok, target, hp, contexts, request.prompt, request.subject, request.target);
    const cur = await activationsAt(this.model, this.tok, [locate(this.tok, '{}', request.prompt, request.subject)], [target.keySite, target.valueSite]);
    const kCur = cur.get(target.keySite)![0]!, vCur = cur.get(target.valueSite)![0]!;
    let dot = 0;
    for (let i = 0; i < u.length; i++) dot += kCur[i]! * u[i]!;
    if (!(Math.abs(dot) > 0)) throw new FactlabError(`ROME: the current key is orthogonal to the left vector (k·u = ${dot}); the edit cannot reach this subject`);
    const r = v.vStar.map((x, i) => (x - vCur[i]!) / dot);
    return { target, u, r, request, hparams: hp, kStar, kCur, vCur, v, statsTokens: mom2?.tokens ?? 0 };
  }

  /** Computes and applies one edit, on top of those in force. */
  async edit(request: RomeRequest, where: Partial<Pick<RomeHparams, 'layer' | 'matrix'>> = {}): Promise<RomeEdit> {
    const c = await this.compute(request, where);
    const e: RomeEdit = { ...c, applied: await applyUpdate(this.model, c) };
    this.stack.push(e);
    return e;
  }

  /** Undoes the latest edit. */
  async revert(): Promise<RomeEdit | undefined> {
    const e = this.stack.pop();
    await e?.applied.revert();
    return e;
  }

  async revertAll(): Promise<void> {
    while (this.stack.length) await this.revert();
  }

  /** Runs fn on the unedited weights, then re-applies the edits in order (the same float64 sums: the same bits). */
  private async unedited<T>(fn: () => Promise<T>): Promise<T> {
    const edits = [...this.stack];
    for (const e of [...edits].reverse()) await e.applied.revert();
    try {
      return await fn();
    } finally {
      for (const e of edits) e.applied = await applyUpdate(this.model, e);
    }
  }
}
