/** Reading and writing model weights: safetensors (single and sharded) and PyTorch .bin checkpoints. */
export { openCheckpoint, openCheckpointFile, CHECKPOINT_FILES, type OpenOptions } from './checkpoint.js';
export type { Checkpoint, TensorInfo, LoadOptions } from './types.js';
export { SafetensorsFile, saveSafetensors } from './safetensors.js';
export { ShardedCheckpoint, readShardIndex, type ShardIndex } from './sharded.js';
export { PytorchBinFile } from './pytorch-bin.js';
