/// <reference types="@webgpu/types" />
import { FactlabError } from '../../errors.js';
import type { KernelTimer } from './kernel-timer.js';

/**
 * Records dispatches into one command encoder and submits them in batches. Ops return at once (the ops API is
 * synchronous), so a kernel only encodes; one submit per op would cost a driver round trip per op, and a model's
 * forward pass is thousands of ops. A batch is submitted when a read needs it, when it holds its share of
 * dispatches, or at the end of the current synchronous stretch of JavaScript (a microtask), so the GPU starts while
 * the caller awaits. The share starts small after each such pause and doubles with each full batch up to
 * MAX_DISPATCHES: the GPU, idle during the pause, starts after the first FIRST_BATCH dispatches rather than after
 * 256 (about 6 ms of recording on the H100's host, while a one-prompt Mamba-2.8b forward is 23 ms of GPU time).
 *
 * Uniform parameters of a batch live in one staging array and reach the GPU with one writeBuffer just before
 * the submit. The same uniform buffer serves every batch: queue operations run in order, so a write for the next
 * batch cannot overtake the previous batch's reads.
 *
 * Validation, out-of-memory and internal errors of everything done while a batch is open are caught by error
 * scopes pushed when the batch opens and popped when it is submitted; they are reported by `check()`, which every
 * read awaits, so a bad kernel fails the read that would otherwise return zeros.
 */
const MAX_DISPATCHES = 256;
const FIRST_BATCH = 16;
const UNIFORM_ARENA = 256 * 1024;
const SCOPES: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];

export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** The pipeline the open pass last set: consecutive dispatches of one kernel set it once (each call crosses into Dawn). */
  private passPipeline: GPUComputePipeline | null = null;
  readonly uniformBuffer: GPUBuffer;
  private readonly stage = new ArrayBuffer(UNIFORM_ARENA);
  private readonly stageWords = new Uint32Array(this.stage);
  private used = 0;
  private dispatches = 0;
  /** Dispatches that fill the open batch: FIRST_BATCH after a pause, doubling with each full batch. */
  private share = FIRST_BATCH;
  private scheduled = false;
  private scopesOpen = false;
  private checks: Promise<void>[] = [];
  /** Buffers named by commands of the open batch. */
  private readonly batchBuffers = new Set<GPUBuffer>();
  private errors: string[] = [];
  /** Dispatches and submits since the backend was made (for tests and benchmarks). */
  submittedDispatches = 0;
  submits = 0;
  /** While set, each dispatch runs in a pass of its own, timed by the GPU (WebGPUBackend.timeKernels). */
  timer: KernelTimer | null = null;

  constructor(private readonly device: GPUDevice, private readonly uniformAlign: number, private readonly onSubmit: () => void) {
    this.uniformBuffer = device.createBuffer({ size: UNIFORM_ARENA, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.addEventListener('uncapturederror', (e) => this.errors.push((e as GPUUncapturedErrorEvent).error.message));
  }

  get pending(): boolean { return this.encoder !== null; }

  /** Notes that a command of the open batch uses `buffer` (see BufferPool). */
  use(buffer: GPUBuffer): void { this.batchBuffers.add(buffer); }

  /** Whether a command recorded but not yet submitted uses `buffer`. */
  uses(buffer: GPUBuffer): boolean { return this.batchBuffers.has(buffer); }

  /** Opens a batch (and its error scopes) if none is open; call before creating pipelines or bind groups. */
  open(): GPUCommandEncoder {
    if (this.encoder) return this.encoder;
    this.pushScopes();
    this.encoder = this.device.createCommandEncoder();
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => { this.scheduled = false; this.flush(); });
    }
    return this.encoder;
  }

  /**
   * Takes room for one dispatch's parameters in the batch's uniform arena, submitting the batch first if it is
   * full. Call it before binding the dispatch's buffers, so that they are counted in the batch that uses them.
   */
  reserve(words: number): GPUBufferBinding {
    const bytes = Math.max(16, Math.ceil((words * 4) / 16) * 16);
    if (this.used + bytes > UNIFORM_ARENA) this.flush(true);
    this.open();
    const offset = this.used;
    this.used = Math.ceil((offset + bytes) / this.uniformAlign) * this.uniformAlign;
    return { buffer: this.uniformBuffer, offset, size: bytes };
  }

  /** Fills a reserved slot. */
  write(slot: GPUBufferBinding, words: Uint32Array): void {
    const at = slot.offset! / 4;
    this.stageWords.set(words, at);
    this.stageWords.fill(0, at + words.length, at + slot.size! / 4);
  }

  /** `uniformOffset`: where the dispatch's parameters lie in the uniform buffer (a dynamic offset of binding 0). */
  dispatch(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, groups: readonly [number, number, number], uniformOffset: number, op: string, shape?: () => string): void {
    const encoder = this.open();
    const timestampWrites = this.timer?.next(op, shape);
    if (timestampWrites) {
      if (this.pass) this.pass.end();
      this.pass = encoder.beginComputePass({ timestampWrites });
      this.passPipeline = null;
    }
    if (!this.pass) { this.pass = encoder.beginComputePass(); this.passPipeline = null; }
    if (this.passPipeline !== pipeline) { this.pass.setPipeline(pipeline); this.passPipeline = pipeline; }
    this.pass.setBindGroup(0, bindGroup, [uniformOffset]);
    this.pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    if (timestampWrites) { this.pass.end(); this.pass = null; }
    if (++this.dispatches >= this.share) this.flush(true);
  }

  /** Zeroes a byte range (a multiple of 4) without a kernel and without the binding-size limit. */
  clear(buffer: GPUBuffer, offset: number, size: number): void {
    const encoder = this.open();
    if (this.pass) { this.pass.end(); this.pass = null; }
    this.use(buffer);
    encoder.clearBuffer(buffer, offset, size);
  }

  /** Copies a byte range (a multiple of 4) between buffers without a kernel. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    const encoder = this.open();
    if (this.pass) { this.pass.end(); this.pass = null; }
    this.use(src);
    this.use(dst);
    encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Submits the open batch; `full`: because it filled up (recording goes on), not at a pause. */
  flush(full = false): void {
    const encoder = this.encoder;
    if (!encoder) return;
    this.share = full ? Math.min(2 * this.share, MAX_DISPATCHES) : FIRST_BATCH;
    if (this.pass) { this.pass.end(); this.pass = null; }
    if (this.used > 0) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.stage, 0, this.used);
    this.device.queue.submit([encoder.finish()]);
    this.submittedDispatches += this.dispatches;
    this.submits++;
    this.encoder = null;
    this.used = 0;
    this.dispatches = 0;
    this.batchBuffers.clear();
    this.popScopes();
    this.onSubmit();
  }

  /** Runs `fn` (which submits work of its own) under error scopes, after submitting the open batch. */
  scoped<T>(fn: () => T): T {
    this.flush();
    this.pushScopes();
    try { return fn(); } finally { this.popScopes(); }
  }

  /** Throws the GPU errors reported so far, if any (awaiting the error scopes that are still resolving). */
  async check(): Promise<void> {
    while (this.checks.length > 0) {
      const pending = this.checks;
      this.checks = [];
      await Promise.all(pending);
    }
    if (this.errors.length === 0) return;
    const first = this.errors[0]!.trim();
    const more = this.errors.length > 1 ? ` (and ${this.errors.length - 1} more GPU errors)` : '';
    this.errors = [];
    throw new FactlabError(`WebGPU error: ${first}${more}`);
  }

  /** Records an error from outside the scopes (device loss), reported by the next `check()`. */
  fail(message: string): void {
    this.errors.push(message);
  }

  private pushScopes(): void {
    if (this.scopesOpen) return;
    for (const f of SCOPES) this.device.pushErrorScope(f);
    this.scopesOpen = true;
  }

  private popScopes(): void {
    if (!this.scopesOpen) return;
    this.scopesOpen = false;
    for (let i = 0; i < SCOPES.length; i++) {
      this.checks.push(this.device.popErrorScope().then((e) => { if (e) this.errors.push(e.message); }));
    }
  }
}
