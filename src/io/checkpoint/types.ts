import type { Tensor } from '../../tensor/tensor.js';

export interface TensorInfo {
  /** The stored dtype, by its safetensors name (F32, BF16, I64, ...), whatever the file format. */
  dtype: string;
  shape: number[];
}

export interface LoadOptions {
  /** Keep F16/BF16 tensors as float16/bfloat16 storage tensors (half the memory) instead of widening to float32. */
  keep16?: boolean;
}

/**
 * Named tensors in one or more files, read one tensor at a time: `load` reads only that tensor's bytes, so a
 * model larger than memory can be inspected, and a model can be loaded with one tensor's worth of overhead.
 */
export interface Checkpoint {
  /** The file it was opened from (an index file for sharded checkpoints); errors name it. */
  readonly path: string;
  readonly format: 'safetensors' | 'safetensors-sharded' | 'pytorch' | 'pytorch-sharded';
  /** Tensor names in file order. */
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** F32/F16/BF16/F64/F8 become float32 (or stay 16-bit with keep16); integer and bool dtypes become int32. */
  load(name: string, opts?: LoadOptions): Promise<Tensor>;
  /** Releases the file handles; later loads fail. Calling it twice is harmless. */
  close(): void;
}
