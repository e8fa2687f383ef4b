import type { Backend } from '../backends/backend.js';
import { useBackend } from '../backends/by-name.js';

/** The backend a test run targets: FACTLAB_BACKEND=cpu (default) or webgpu, made current for tensor creation. */
export function selectTestBackend(): Promise<Backend> {
  return useBackend(process.env.FACTLAB_BACKEND ?? 'cpu', 'FACTLAB_BACKEND');
}
