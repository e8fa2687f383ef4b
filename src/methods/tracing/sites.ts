import { FactlabError } from '../../tensor/errors.js';
import type { ModelConfig } from '../../io/config/config.js';
import { siteTable } from '../../models/sites.js';
import type { ColormapName } from '../plots/colormaps.js';

/** A per-layer hook site to trace, and how many consecutive layers one restoration covers. */
export interface TraceSite {
  /** What the user asked for: 'residual', 's', 'g', 'o', 'attn', 'mlp', or a hook site ('mixer.hook_x'). */
  name: string;
  /** The per-layer site without its layer ('hook_resid_post', 'mixer.hook_s'). */
  site: string;
  /** Layers restored together: the window centred (as romba centres it) on the layer of the matrix. */
  window: number;
  /** The paper's colour scheme for this kind of site. */
  colormap: ColormapName;
  /** For titles: 'residual h', 'SSM output s', ... */
  label: string;
}

/** The paper's window for every site but the residual stream (romba's trace_important_window). */
export const DEFAULT_WINDOW = 10;

interface Alias { site: string; colormap: ColormapName; label: string; arch?: ModelConfig['arch'] }

const ALIASES: Record<string, Alias> = {
  residual: { site: 'hook_resid_post', colormap: 'Purples', label: 'residual h' },
  s: { site: 'mixer.hook_s', colormap: 'Reds', label: 'SSM output s', arch: 'mamba' },
  g: { site: 'mixer.hook_g', colormap: 'Greens', label: 'gate g', arch: 'mamba' },
  o: { site: 'hook_mixer_out', colormap: 'Blues', label: 'block output o', arch: 'mamba' },
  attn: { site: 'hook_attn_out', colormap: 'Reds', label: 'attention output', arch: 'gptneox' },
  mlp: { site: 'hook_mlp_out', colormap: 'Greens', label: 'MLP output', arch: 'gptneox' },
};

/** The paper's four sites for Mamba and three for Pythia. */
export function defaultSiteNames(config: ModelConfig): string[] {
  return config.arch === 'mamba' ? ['residual', 's', 'g', 'o'] : ['residual', 'attn', 'mlp'];
}

/** The paper's colours for a hook site named directly, by what it is closest to. */
function colormapOf(site: string): ColormapName {
  const hit = Object.values(ALIASES).find((a) => a.site === site);
  if (hit) return hit.colormap;
  if (/resid/.test(site)) return 'Purples';
  if (/mlp|hook_g$|hook_z$/.test(site)) return 'Greens';
  if (/attn|hook_s$|hook_x/.test(site)) return 'Reds';
  return 'Oranges';
}

/**
 * Resolves a site as the user wrote it: a name from the paper ('residual', 's', ...) or a per-layer hook site,
 * optionally followed by ':window' ('o:5'). The residual stream is restored one layer at a time unless a window
 * is given; every other site over `window` layers.
 */
export function resolveTraceSite(config: ModelConfig, spec: string, window = DEFAULT_WINDOW): TraceSite {
  const m = /^([^:]+)(?::(\d+))?$/.exec(spec.trim());
  if (!m) throw new FactlabError(`unknown trace site "${spec}": write a site name, optionally followed by :window (e.g. o:10)`);
  const name = m[1]!;
  const alias = ALIASES[name];
  const site = alias ? alias.site : name.replace(/^blocks\.\{l\}\./, '');
  const info = alias?.arch && alias.arch !== config.arch ? undefined : siteTable(config).find((s) => s.name === `blocks.{l}.${site}`);
  if (!info) {
    const names = Object.keys(ALIASES).filter((k) => !ALIASES[k]!.arch || ALIASES[k]!.arch === config.arch);
    const perLayer = siteTable(config).filter((s) => s.name.startsWith('blocks.{l}.') && !s.captureOnly).map((s) => s.name.slice('blocks.{l}.'.length));
    throw new FactlabError(`unknown trace site "${name}" for a ${config.arch} model: use ${names.join(', ')} or a per-layer hook site (${perLayer.join(', ')})`);
  }
  if (info.captureOnly) throw new FactlabError(`trace site "${name}": ${info.name} can be captured but not patched`);
  if ((info.posAxis ?? 1) !== 1) throw new FactlabError(`trace site "${name}": ${info.name} has heads before positions; trace attn.hook_z or hook_attn_out instead`);
  const w = m[2] !== undefined ? Number(m[2]) : site === 'hook_resid_post' ? 1 : window;
  if (!Number.isInteger(w) || w < 1) throw new FactlabError(`trace site "${spec}": the window must be a positive number of layers`);
  return { name: spec.trim(), site, window: w, colormap: alias?.colormap ?? colormapOf(site), label: alias?.label ?? site };
}

/** The layers restored for the matrix column of `layer`: romba's range(max(0, L − w/2), min(n, L − w/2 + w)). */
export function windowLayers(layer: number, window: number, nLayer: number): number[] {
  const lo = Math.max(0, layer - Math.floor(window / 2));
  const hi = Math.min(nLayer, layer - Math.floor(window / 2) + window);
  return Array.from({ length: hi - lo }, (_, i) => lo + i);
}
