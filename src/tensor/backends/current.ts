import type { Backend } from './backend.js';
import { cpuBackend } from './cpu/cpu-backend.js';

/** The backend new tensors are made on. Ops run where their inputs live. */
let current: Backend = cpuBackend;

export function getBackend(): Backend {
  return current;
}

export function setBackend(b: Backend): void {
  current = b;
}

/** Makes tensors on `b` while `fn` runs. */
export function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = current;
  current = b;
  try { return fn(); } finally { current = prev; }
}
