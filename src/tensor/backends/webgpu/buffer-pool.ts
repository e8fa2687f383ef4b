/// <reference types="@webgpu/types" />

/**
 * Reuse of freed GPU buffers. Creating a GPUBuffer costs a driver allocation (and on lavapipe a zeroed host
 * allocation), while a training step frees and re-allocates the same few hundred sizes every iteration, so freed
 * buffers are kept by size class and handed out again. Classes are four per power of two, so a buffer is at most
 * 25% larger than asked for and a slightly different length still finds a pooled buffer.
 *
 * A buffer freed while dispatches that use it are recorded but not yet submitted may at once become the output
 * of a later dispatch (commands run in order, with barriers between dispatches), but not the target of an upload:
 * queue.writeBuffer would land before the recorded dispatches run. So such frees are `pending`, reusable for
 * kernel outputs only, until the recorder submits the batch (`settle`).
 */
const MIN_CLASS = 256;

function sizeClass(bytes: number): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const top = 2 ** Math.floor(Math.log2(bytes));
  const step = top / 4;
  return Math.max(MIN_CLASS, Math.ceil(bytes / step) * step);
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly pending = new Map<number, GPUBuffer[]>();
  private pooled = 0;
  /** Buffers that exist (held by storages, pending or pooled), their bytes, and the most bytes since `resetPeak`. */
  private existing = 0;
  private existingBytes = 0;
  /** Buffers ever created: a loop that reuses its memory stops adding to it (what benchmarks print per round). */
  private created = 0;
  private peak = 0;
  /** The most bytes ever held by buffers in use (not pooled): see `cap`. */
  private peakInUse = 0;

  /**
   * `onDestroy` hears of every buffer about to be destroyed (bind groups that name it must be forgotten). `idOf`
   * numbers buffers: a reused buffer is the lowest-numbered one that fits, so that a computation repeated (a
   * training step) gets the same buffers each time, whatever order they were freed in, and its bind groups repeat.
   */
  constructor(private readonly device: GPUDevice, private readonly usage: number, private readonly maxPooledBytes: number,
    private readonly onDestroy: (b: GPUBuffer) => void = () => {}, private readonly idOf: (b: GPUBuffer) => number = () => 0) {}

  /** Takes the lowest-numbered buffer out of a list. */
  private take(list: GPUBuffer[] | undefined): GPUBuffer | undefined {
    if (!list || list.length === 0) return undefined;
    let best = 0;
    for (let i = 1; i < list.length; i++) if (this.idOf(list[i]!) < this.idOf(list[best]!)) best = i;
    const b = list[best]!;
    list[best] = list[list.length - 1]!;
    list.pop();
    return b;
  }

  private destroy(b: GPUBuffer): void {
    this.onDestroy(b);
    this.existingBytes -= b.size;
    b.destroy();
    this.existing--;
  }

  /** A buffer of at least `bytes`; `forUpload` when it will be written by queue.writeBuffer rather than a kernel. */
  acquire(bytes: number, forUpload: boolean): GPUBuffer {
    const size = sizeClass(bytes);
    const reused = (forUpload ? undefined : this.take(this.pending.get(size))) ?? this.take(this.free.get(size));
    if (reused) { this.pooled -= size; this.notePeakInUse(); return reused; }
    this.existing++;
    this.created++;
    this.existingBytes += size;
    this.peak = Math.max(this.peak, this.existingBytes);
    this.notePeakInUse();
    return this.device.createBuffer({ size, usage: this.usage });
  }

  private notePeakInUse(): void { this.peakInUse = Math.max(this.peakInUse, this.existingBytes - this.pooled); }

  /**
   * The most bytes kept for reuse: `maxPooledBytes`, or half the largest working set seen if that is more. A
   * backward pass over every parameter of a 2.8B model frees 11 GB of gradients per step; with a fixed 1 GiB cap
   * they were destroyed and created again at every step, and creating GPU buffers then took half of the host's time.
   */
  private cap(): number { return Math.max(this.maxPooledBytes, this.peakInUse / 2); }

  /** `inBatch`: the open batch uses the buffer (then it waits for `settle` before it may serve an upload). */
  release(buffer: GPUBuffer, inBatch: boolean): void {
    // Over the cap a buffer is destroyed, unless a recorded command still names it (a destroyed buffer may not be
    // submitted); submitted work keeps a destroyed buffer alive until it is done.
    if (this.pooled + buffer.size > this.cap() && !inBatch) { this.destroy(buffer); return; }
    const map = inBatch ? this.pending : this.free;
    let list = map.get(buffer.size);
    if (!list) map.set(buffer.size, (list = []));
    list.push(buffer);
    this.pooled += buffer.size;
  }

  /** Everything recorded so far has been submitted: pending buffers may serve uploads too. */
  settle(): void {
    for (const [size, list] of this.pending) {
      let dst = this.free.get(size);
      if (!dst) this.free.set(size, (dst = []));
      for (const b of list) {
        if (this.pooled > this.cap()) { this.destroy(b); this.pooled -= size; } else dst.push(b);
      }
    }
    this.pending.clear();
  }

  /** Destroys every pooled buffer (memory pressure, or shutting down); call with nothing recorded. */
  trim(): void {
    for (const map of [this.free, this.pending]) {
      for (const list of map.values()) for (const b of list) this.destroy(b);
      map.clear();
    }
    this.pooled = 0;
  }

  pooledBytes(): number { return this.pooled; }
  bufferCount(): number { return this.existing; }
  createdCount(): number { return this.created; }
  /** GPU memory held in buffers (in use or pooled), and its high-water mark since `resetPeak`. */
  bytes(): number { return this.existingBytes; }
  peakBytes(): number { return this.peak; }
  resetPeak(): void { this.peak = this.existingBytes; }
  /** Forgets the largest working set, so the cap falls back to `maxPooledBytes` (with `trim`, to give memory back). */
  resetWorkingSet(): void { this.peakInUse = this.existingBytes - this.pooled; }
}
