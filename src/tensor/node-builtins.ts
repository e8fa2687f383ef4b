/**
 * Node's built-in modules and environment, reached without a static import, so that a module needing them in Node
 * still loads in a browser (where they are undefined). `process.getBuiltinModule` is synchronous (Node 20.16+).
 */
import { FactlabError } from './errors.js';

interface NodeProcess { env?: Record<string, string | undefined>; getBuiltinModule?: (name: string) => unknown }

const nodeProcess = (): NodeProcess | undefined => (globalThis as { process?: NodeProcess }).process;

/** The built-in module `name` ('node:fs', ...), or undefined outside Node. */
export function nodeBuiltin<T>(name: string): T | undefined {
  return nodeProcess()?.getBuiltinModule?.(name) as T | undefined;
}

/** The built-in module `name`, or one error saying that `what` needs Node. */
export function requireNodeBuiltin<T>(name: string, what: string): T {
  const m = nodeBuiltin<T>(name);
  if (m === undefined) throw new FactlabError(`${what} needs Node.js 20.16 or newer (${name}); in a browser, use the webgpu backend and load models from files`);
  return m;
}

/** The environment variable `name`, or undefined (always, in a browser). */
export function envVar(name: string): string | undefined {
  return nodeProcess()?.env?.[name];
}
