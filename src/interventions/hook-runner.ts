import type { Tensor } from '../tensor/tensor.js';
import { FactlabError } from '../tensor/errors.js';
import { reshape } from '../tensor/ops/shape/reshape.js';
import type { ModelConfig } from '../io/config/config.js';
import type { EdgeCut, HookRunner } from '../models/hooks.js';
import { parseSite, siteAt, type SiteInfo } from '../models/sites.js';
import type { CaptureSpec, Cut, Intervention } from './types.js';
import { checkCut, layerCuts } from './cuts.js';
import { applyIntervention } from './patch.js';

/** Concrete site names of a spec: the site itself, or the per-layer template at each of `layers`. */
export function concreteSites(config: ModelConfig, spec: { site: string; layers?: readonly number[] }): string[] {
  const names = spec.layers ? spec.layers.map((l) => siteAt(spec.site, l)) : [spec.site];
  for (const n of names) parseSite(config, n);
  return names;
}

/**
 * The hook runner that carries out interventions and captures during one forward pass. Sites are checked when
 * it is built (unknown names, patches on capture-only sites) and after the pass (`assertReached`), so that an
 * intervention never silently does nothing.
 */
export class InterventionHooks implements HookRunner {
  /** Captured activations, by concrete site name. They belong to the caller, who disposes them. */
  readonly captures = new Map<string, Tensor>();
  private readonly patches = new Map<string, { info: SiteInfo; list: Intervention[] }>();
  private readonly toCapture = new Set<string>();
  private readonly reached = new Set<string>();
  private readonly cutLayers = new Set<number>();
  private readonly cutsReached = new Set<number>();

  constructor(private readonly config: ModelConfig, interventions: readonly Intervention[] = [], captures: readonly (string | CaptureSpec)[] = [], private readonly cutList: readonly Cut[] = []) {
    for (const c of cutList) {
      checkCut(config, c);
      for (const l of c.layers) this.cutLayers.add(l);
    }
    for (const p of interventions) {
      for (const site of concreteSites(config, p)) {
        const { info } = parseSite(config, site);
        if (info.captureOnly) throw new FactlabError(`intervention at ${site}: this site can be captured but not patched (${info.description})`);
        const entry = this.patches.get(site) ?? { info, list: [] };
        entry.list.push(p);
        this.patches.set(site, entry);
      }
    }
    for (const c of captures) for (const site of concreteSites(config, typeof c === 'string' ? { site: c } : c)) this.toCapture.add(site);
  }

  wants(site: string): boolean {
    return this.patches.has(site) || this.toCapture.has(site);
  }

  at(site: string, x: Tensor): Tensor {
    if (!this.wants(site)) return x;
    this.reached.add(site);
    let y = x;
    const entry = this.patches.get(site);
    for (const p of entry?.list ?? []) {
      const next = applyIntervention(site, p, y, entry!.info.posAxis ?? 1);
      if (y !== x) y.dispose();
      y = next;
    }
    if (this.toCapture.has(site)) {
      this.captures.get(site)?.dispose(); // a site reached twice (generation) keeps its latest value
      this.captures.set(site, reshape(y, y.shape));
    }
    return y;
  }

  cuts(layer: number, B: number, T: number): readonly EdgeCut[] {
    if (!this.cutLayers.has(layer)) return [];
    this.cutsReached.add(layer);
    return layerCuts(this.cutList, layer, B, T);
  }

  /** Fails naming any site that was patched or captured, or any layer with cuts, never reached by the forward pass. */
  assertReached(): void {
    const skipped = [...this.cutLayers].filter((l) => !this.cutsReached.has(l));
    if (skipped.length) throw new FactlabError(`cuts in layers ${skipped.sort((a, b) => a - b).join(', ')} were never reached by the ${this.config.arch} forward pass (did it start at a later layer?)`);
    const missed = [...this.patches.keys(), ...this.toCapture].filter((s) => !this.reached.has(s));
    if (missed.length) {
      throw new FactlabError(`these hook sites were never reached by the ${this.config.arch} forward pass: ${[...new Set(missed)].join(', ')}` +
        (missed.some((s) => s.includes('resid_mid')) ? ' (hook_resid_mid exists only in sequential-residual models)' : ''));
    }
  }

  disposeCaptures(): void {
    for (const t of this.captures.values()) t.dispose();
    this.captures.clear();
  }
}
