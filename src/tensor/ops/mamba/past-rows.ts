import { opError } from '../../errors.js';
import type { Tensor } from '../../tensor.js';
import { cpuI32 } from '../../backends/cpu/cpu-backend.js';
import { hostInt32 } from '../../backends/webgpu/webgpu-backend.js';

/**
 * The rows of a run's past that a batch continues (causalConv1d's past inputs, selectiveScan's initial state):
 * int32 [B], each in [0, R). Values with a host copy (all of them on the CPU) are checked here; values computed on
 * the GPU are checked by the kernel, which reports a bad one through the fault buffer (pastRowsFault).
 */
export function checkPastRows(op: string, rows: Tensor, B: number, R: number, inputs: readonly Tensor[]): void {
  if (rows.dtype !== 'int32' || rows.rank !== 1 || rows.shape[0] !== B) throw opError(op, `the past's rows must be int32 [${B}] (one per row of x), got ${rows.dtype}[${rows.shape.join(',')}]`, inputs);
  const host = rows.backend.name === 'cpu' ? cpuI32(rows) : hostInt32(rows);
  if (!host) return;
  for (let b = 0; b < B; b++) {
    const v = host[b]!;
    if (v < 0 || v >= R) throw opError(op, `the past's row ${v} for row ${b} of x is outside its ${R} rows`, inputs);
  }
}

/** The message of a bad row found on the GPU (`report(value, position)` in the kernel). */
export const pastRowsFault = (op: string, R: number) => (v: number, b: number) => `${op}: the past's row ${v} for row ${b} of x is outside its ${R} rows`;
