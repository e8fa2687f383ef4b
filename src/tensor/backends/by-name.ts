import type { Backend } from './backend.js';
import { cpuBackend } from './cpu/cpu-backend.js';
import { setBackend } from './current.js';
import { FactlabError } from '../errors.js';

export const BACKEND_NAMES = ['cpu', 'webgpu'] as const;

/**
 * Makes the backend called `name` current and returns it: what a --backend option, FACTLAB_BACKEND, a benchmark
 * or a test run asks for. `what` names the option or variable in the error for any other name. The WebGPU backend
 * is imported only when asked for, so a CPU run never loads Dawn.
 */
export async function useBackend(name: string, what: string): Promise<Backend> {
  if (name === 'cpu') { setBackend(cpuBackend); return cpuBackend; }
  if (name !== 'webgpu') throw new FactlabError(`${what} must be ${BACKEND_NAMES.join(' or ')}, got "${name}"`);
  const { initWebGPU } = await import('./webgpu/webgpu-backend.js');
  const gpu = await initWebGPU();
  setBackend(gpu);
  return gpu;
}
