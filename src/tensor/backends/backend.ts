import type { AnyTypedArray, DType } from '../dtype.js';

/**
 * A backend owns memory and runs kernels. Kernels themselves live beside their op (ops/<op>.ts), keyed by
 * backend name, so a backend only has to say how memory is allocated, filled, read and freed.
 *
 * Reads are asynchronous because a GPU can only be read back asynchronously (Dawn's mapAsync); the CPU backend
 * answers at once but keeps the same signature so that code written against the CPU runs on the GPU unchanged.
 */
export interface Storage {
  readonly backend: Backend;
  readonly dtype: DType;
  /** Elements, not bytes. */
  readonly size: number;
  /** Tensors (and tape shadows) that share this storage; it is freed when the count drops to zero. */
  refs: number;
}

export interface Backend {
  readonly name: string;
  alloc(dtype: DType, size: number): Storage;
  /** Makes a storage holding a copy of `data` (the caller may keep using its array). */
  upload(dtype: DType, data: AnyTypedArray): Storage;
  read(storage: Storage, offset: number, size: number): Promise<AnyTypedArray>;
  free(storage: Storage): void;
  /** Bytes currently allocated, for leak tests and memory reports. */
  allocatedBytes(): number;
}
