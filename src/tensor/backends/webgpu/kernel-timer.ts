/// <reference types="@webgpu/types" />
import { FactlabError } from '../../errors.js';

/** GPU time of one recorded kernel, from timestamps the GPU wrote around it. */
/** `shape`: what tells this kernel from others of its op (Launch.shape), where the op gives it. */
export interface KernelTime { op: string; ms: number; shape?: string }

/**
 * Timestamps around each dispatch (the `timestamp-query` feature): while a timer is attached, the recorder gives
 * every dispatch a compute pass of its own whose beginning and end write into this query set. Wall-clock timing
 * of back-to-back work cannot separate a kernel from the host's recording and from the read's latency; these can.
 * Dispatches beyond `capacity` run untimed and are counted in `dropped`.
 */
/** Queries per set: WebGPU allows at most 4096 in one query set. */
const PER_SET = 4096;

export class KernelTimer {
  private readonly sets: GPUQuerySet[] = [];
  private readonly labels: { op: string; shape?: string }[] = [];
  dropped = 0;

  constructor(private readonly device: GPUDevice, readonly capacity: number) {}

  /** Where the next dispatch writes its two timestamps, or null when `capacity` dispatches are timed already. */
  next(op: string, shape?: () => string): GPUComputePassTimestampWrites | null {
    if (this.labels.length >= this.capacity) { this.dropped++; return null; }
    const q = 2 * this.labels.length;
    if (q % PER_SET === 0) this.sets.push(this.device.createQuerySet({ type: 'timestamp', count: PER_SET }));
    this.labels.push(shape ? { op, shape: shape() } : { op });
    return { querySet: this.sets[this.sets.length - 1]!, beginningOfPassWriteIndex: q % PER_SET, endOfPassWriteIndex: (q % PER_SET) + 1 };
  }

  /** Reads every timestamp written (call after the timed work was submitted) and frees the query sets. */
  async read(): Promise<KernelTime[]> {
    const n = this.labels.length;
    try {
      if (n === 0) return [];
      const bytes = 2 * n * 8;
      const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      try {
        const encoder = this.device.createCommandEncoder();
        // Sets are full but the last; each resolves to its place (a multiple of 256 bytes, as resolves need).
        this.sets.forEach((set, i) => encoder.resolveQuerySet(set, 0, Math.min(PER_SET, 2 * n - i * PER_SET), resolved, i * PER_SET * 8));
        encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
        this.device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const t = new BigUint64Array(staging.getMappedRange().slice(0));
        staging.unmap();
        return this.labels.map((l, k) => ({ ...l, ms: Number(t[2 * k + 1]! - t[2 * k]!) / 1e6 }));
      } finally {
        resolved.destroy();
        staging.destroy();
      }
    } finally {
      for (const set of this.sets) set.destroy();
    }
  }
}

/** The GPU time of a group of kernels and their number; `op` names the group. */
export interface KernelTotal { op: string; ms: number; count: number }

/** Kernel times summed per op, largest first: where a pass spends its GPU time. */
export function byOp(kernels: readonly KernelTime[]): KernelTotal[] {
  return summed(kernels, (k) => k.op);
}

/**
 * Kernel times of the ops whose names start with `ops` (all: ''), summed per op and shape (KernelTime.shape),
 * largest first: which products of matmul take its time.
 */
export function byShape(kernels: readonly KernelTime[], ops = ''): KernelTotal[] {
  return summed(kernels.filter((k) => k.op.startsWith(ops)), (k) => (k.shape ? `${k.op} ${k.shape}` : k.op));
}

function summed(kernels: readonly KernelTime[], keyOf: (k: KernelTime) => string): KernelTotal[] {
  const m = new Map<string, KernelTotal>();
  for (const k of kernels) {
    const key = keyOf(k);
    const e = m.get(key) ?? { op: key, ms: 0, count: 0 };
    e.ms += k.ms;
    e.count++;
    m.set(key, e);
  }
  return [...m.values()].sort((a, b) => b.ms - a.ms);
}

export function noTimestamps(description: string): FactlabError {
  return new FactlabError(`webgpu: this adapter (${description}) has no 'timestamp-query' feature, so kernels cannot be timed on the GPU`);
}
