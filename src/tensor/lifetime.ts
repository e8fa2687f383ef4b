import type { Tensor } from './tensor.js';
import type { Storage } from './backends/backend.js';
import { FactlabError } from './errors.js';

/**
 * Tensor lifetimes. GPU memory is not garbage-collected, so every tensor is owned by the innermost open scope
 * when it is made, and `tidy` disposes what a scope made except what it returns. Tensors made outside any scope
 * (model weights, caches) live until `dispose()`. Storage is reference-counted: views and the autodiff tape
 * share it, and it is freed when the last holder lets go. `liveTensors()` is what leak tests count.
 */
const scopes: Set<Tensor>[] = [];
let live = 0;

export function track(t: Tensor): void {
  live++;
  scopes[scopes.length - 1]?.add(t);
}

export function released(t: Tensor): void {
  live--;
  for (let i = scopes.length - 1; i >= 0; i--) if (scopes[i]!.delete(t)) break;
}

export function releaseStorage(s: Storage): void {
  if (--s.refs === 0) s.backend.free(s);
  else if (s.refs < 0) throw new FactlabError('internal: storage released twice');
}

export function liveTensors(): number {
  return live;
}

/** Removes a tensor from every open scope, so that it survives them (until its own `dispose()`). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isTensor(value)) { out.add(value); return; }
  if (Array.isArray(value)) { for (const v of value) collect(v, out, seen); return; }
  if (value instanceof Map) { for (const v of value.values()) collect(v, out, seen); return; }
  if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, seen);
}

function isTensor(v: object): v is Tensor {
  return (v as { __tensor?: true }).__tensor === true;
}

function close(scope: Set<Tensor>, result: unknown): void {
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of kept) if (!t.isDisposed && scope.has(t)) parent.add(t);
}

function openScope(): Set<Tensor> {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  return scope;
}

function endScope(scope: Set<Tensor>, result: unknown): void {
  scopes.splice(scopes.lastIndexOf(scope), 1);
  close(scope, result);
}

/**
 * Runs `fn` in a scope: every tensor it makes is disposed when it returns, except the tensors found in its
 * result (arrays, Maps and plain objects are searched), which pass to the enclosing scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = openScope();
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new FactlabError('tidy: the function returned a Promise; use tidyAsync for async work');
  } catch (e) {
    endScope(scope, undefined);
    throw e;
  }
  endScope(scope, result);
  return result;
}

/**
 * The async form of `tidy`. Scopes form one stack, so two async scopes must not run interleaved
 * (await one before starting the next); tensors made by unrelated code while it awaits would be counted in it.
 */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = openScope();
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    endScope(scope, undefined);
    throw e;
  }
  endScope(scope, result);
  return result;
}
