import type { Backend } from '../backends/backend.js';
import { cpuBackend } from '../backends/cpu/cpu-backend.js';
import { setBackend } from '../backends/current.js';
import { FactlabError } from '../errors.js';

/** The backend a test run targets: FACTLAB_BACKEND=cpu (default) or webgpu, made current for tensor creation. */
export async function selectTestBackend(): Promise<Backend> {
  const name = process.env.FACTLAB_BACKEND ?? 'cpu';
  if (name === 'cpu') { setBackend(cpuBackend); return cpuBackend; }
  if (name === 'webgpu') {
    const { initWebGPU } = await import('../backends/webgpu/webgpu-backend.js');
    const gpu = await initWebGPU();
    setBackend(gpu);
    return gpu;
  }
  throw new FactlabError(`FACTLAB_BACKEND=${name}: unknown backend (expected cpu or webgpu)`);
}
