import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FactlabError } from '../tensor/errors.js';
import { InvalidArgumentError } from 'commander';

export function intArg(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got "${v}"`);
    return n;
  };
}

export function floatArg(name: string, positive = true) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || (positive && n <= 0)) throw new InvalidArgumentError(`${name} must be a ${positive ? 'positive ' : ''}number, got "${v}"`);
    return n;
  };
}

export function choice<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!values.includes(v as T)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}, got "${v}"`);
    return v as T;
  };
}

// dist/src/cli → the package root, where models/ holds the shipped organisms.
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The organisms factlab ships (docs/organisms.md), by their short names. */
export const SHIPPED_MODELS: Readonly<Record<string, string>> = { mamba: 'models/mamba-organism', neox: 'models/neox-organism' };

export const MODEL_HELP = 'Hugging Face model directory (config.json, weights, tokenizer.json), or "mamba" / "neox" for the organisms factlab ships (default: mamba)';

/**
 * The model directory a --model option names: a path, or the short name of a shipped organism ("mamba", "neox",
 * or their folder names), resolved inside the package, so that the commands work from any directory right after
 * installation. Without --model, the Mamba organism.
 */
export function resolveModel(spec: string | undefined): string {
  const name = spec === undefined ? 'mamba' : spec.replace(/-organism$/, '').replace(/^gptneox$/, 'neox');
  const shipped = SHIPPED_MODELS[name];
  if (spec !== undefined && (!shipped || existsSync(spec))) return spec;
  const dir = join(packageRoot, shipped!);
  if (!existsSync(join(dir, 'config.json'))) {
    throw new FactlabError(`${spec === undefined ? 'no --model given, and the default model' : `--model ${spec}: the shipped model`} ${shipped} is not in this installation (${dir}); `
      + 'train it as docs/organisms.md describes, or pass --model <dir>');
  }
  return dir;
}
