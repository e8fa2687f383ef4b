import { allocTyped, BYTES_PER_ELEMENT, type AnyTypedArray, type DType } from '../../dtype.js';
import type { Backend, Storage } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { FactlabError } from '../../errors.js';

export interface CpuStorage extends Storage {
  data: AnyTypedArray;
}

class CpuBackend implements Backend {
  readonly name = 'cpu';
  private bytes = 0;

  alloc(dtype: DType, size: number): CpuStorage {
    this.bytes += size * BYTES_PER_ELEMENT[dtype];
    return { backend: this, dtype, size, refs: 0, data: allocTyped(dtype, size) };
  }

  upload(dtype: DType, data: AnyTypedArray): CpuStorage {
    const s = this.alloc(dtype, data.length);
    s.data.set(data as never);
    return s;
  }

  async read(storage: Storage, offset: number, size: number): Promise<AnyTypedArray> {
    return (storage as CpuStorage).data.slice(offset, offset + size);
  }

  free(storage: Storage): void {
    this.bytes -= storage.size * BYTES_PER_ELEMENT[storage.dtype];
    (storage as CpuStorage).data = new Float32Array(0);
  }

  allocatedBytes(): number {
    return this.bytes;
  }
}

export const cpuBackend = new CpuBackend();

/**
 * The elements of a CPU tensor, as a view of its storage (no copy). Kernels write their outputs through it.
 * Only for CPU kernels and CPU-only algorithms: GPU code must use the asynchronous `Tensor.data()`.
 */
export function cpuData(t: Tensor): AnyTypedArray {
  if (t.storage.backend !== cpuBackend) throw new FactlabError(`cpuData: tensor ${t.describe()} lives on ${t.storage.backend.name}, not on the CPU`);
  return (t.storage as CpuStorage).data.subarray(t.offset, t.offset + t.size);
}

export function cpuF32(t: Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new FactlabError(`expected a float32 tensor, got ${t.describe()}`);
  return cpuData(t) as Float32Array;
}

export function cpuI32(t: Tensor): Int32Array {
  if (t.dtype !== 'int32') throw new FactlabError(`expected an int32 tensor, got ${t.describe()}`);
  return cpuData(t) as Int32Array;
}
