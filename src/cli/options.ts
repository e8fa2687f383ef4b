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
