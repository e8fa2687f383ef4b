/// <reference types="@webgpu/types" />
import { BYTES_PER_ELEMENT, allocTyped, type AnyTypedArray, type DType } from '../../dtype.js';
import type { Backend, Storage } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { FactlabError } from '../../errors.js';
import { BufferPool } from './buffer-pool.js';
import type { Compiled } from './kernel.js';
import { Recorder } from './recorder.js';
import { requestGpuDevice } from './device.js';
import { KernelTimer, noTimestamps, type KernelTime } from './kernel-timer.js';

/**
 * The WebGPU backend: storages are GPUBuffers, kernels are WGSL beside their ops (the `webgpu` entry of each op's
 * kernels). What differs from the CPU backend, for code that runs on both:
 *   - Ops return at once: their dispatches are recorded and submitted in batches (recorder.ts); only `data()`
 *     waits. GPU errors (a kernel bug, out of memory) are reported by that read as FactlabErrors.
 *   - Indices that came from the host (uploaded int32) are checked when an op uses them, with the CPU's message.
 *     Indices made on the GPU (argmax, topk, cast) are checked by the kernel: a bad one leaves zeros and makes
 *     the next read throw, naming the op, the value and the position.
 *   - Tensors larger than maxStorageBufferBindingSize (128 MiB on lavapipe, 2 GiB on an H100) work in the
 *     elementwise, copy, gather and scatter kernels, which bind windows of them; other kernels throw a
 *     FactlabError naming the op and the operand.
 *   - Sums are float32 (with compensation where long), not the CPU's float64.
 */
export interface GpuStorage extends Storage {
  buffer: GPUBuffer;
  /**
   * A host copy of int32 data that was uploaded (token ids, indices, targets), so that kernels which index with it
   * can reject an out-of-range value synchronously, with the same message as the CPU backend. Int32 tensors made
   * on the GPU (argmax, topk, cast) have none; kernels check those on the GPU and report at the next read.
   */
  host?: Int32Array;
}

export interface WebGPUOptions {
  /** Bytes of freed buffers kept for reuse (default 1 GiB); beyond it freed buffers are destroyed. */
  maxPooledBytes?: number;
  /**
   * Treat bindings as limited to this many bytes, below the device's maxStorageBufferBindingSize: tests use it to
   * exercise the splitting of large tensors with small ones.
   */
  maxBindingBytes?: number;
}

/** Int32 data up to this many elements keeps a host copy on upload (16 MiB of ids covers any batch of prompts). */
const HOST_COPY_MAX = 4 * 1024 * 1024;
const FAULT_WORDS = 4;

/**
 * Out-of-range indices found by a kernel on the GPU. Kernels that index with GPU-made int32 data register a
 * describer per dispatch and write the first fault's code, value and position into a small buffer that every read
 * copies back with its data; the read then throws the described error. (The faulting kernel writes zeros where
 * an index was bad, so nothing reads out of bounds meanwhile.)
 */
export type FaultDescriber = (value: number, position: number) => string;

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly limits: {
    maxBinding: number; maxBuffer: number; maxWorkgroupStorage: number; maxInvocations: number;
    maxGroupsPerDim: number; storageAlign: number;
  };
  readonly recorder: Recorder;
  /** Compiled kernels by code, then by the rest of what decides their source (kernel.ts). */
  readonly pipelines = new Map<string, Map<string, Compiled>>();
  nextPipelineId = 0;
  /**
   * Bind groups by pipeline layout and the exact buffer ranges they bind. A training step binds the same pooled
   * buffers in the same pattern at every step, and creating a bind group (a native object the garbage collector
   * must later finalise) was most of a dispatch's cost; the parameters bind through a dynamic offset, so they do
   * not enter the key. Forgotten whenever a buffer is destroyed, so no cached group names a dead buffer.
   */
  private readonly bindGroups = new Map<string, { group: GPUBindGroup; buffers: number[] }>();
  /**
   * The keys of the cached bind groups that name each buffer (by id), to forget just those when it is destroyed;
   * a forgotten group leaves the sets of its other buffers too, so long-lived buffers collect no stale keys.
   */
  private readonly groupsOfBuffer = new Map<number, Set<string>>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  readonly faultBuffer: GPUBuffer;
  private readonly pool: BufferPool;
  private readonly faults = new Map<number, FaultDescriber>();
  private nextFault = 1;
  private bytes = 0;
  private live = 0;
  keepAlive: readonly unknown[] = [];

  constructor(readonly device: GPUDevice, readonly description: string, readonly subgroups: boolean, opts: WebGPUOptions = {}) {
    const l = device.limits;
    this.limits = {
      maxBinding: Math.min(l.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity), maxBuffer: l.maxBufferSize,
      maxWorkgroupStorage: l.maxComputeWorkgroupStorageSize,
      maxInvocations: Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX),
      maxGroupsPerDim: l.maxComputeWorkgroupsPerDimension, storageAlign: l.minStorageBufferOffsetAlignment,
    };
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.pool = new BufferPool(device, usage, opts.maxPooledBytes ?? 2 ** 30, (b) => this.forgetBindGroups(b), (b) => this.bufferId(b));
    this.recorder = new Recorder(device, l.minUniformBufferOffsetAlignment, () => this.pool.settle());
    this.faultBuffer = device.createBuffer({ size: FAULT_WORDS * 4, usage });
  }

  /** A small number naming a buffer for the lifetime of the backend (bind group keys). */
  bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /** The cached bind group of `key`, made of `layout` and `entries` (buffer bindings) the first time (see `bindGroups`). */
  bindGroup(key: string, layout: GPUBindGroupLayout, entries: GPUBindGroupEntry[]): GPUBindGroup {
    const cached = this.bindGroups.get(key);
    if (cached) return cached.group;
    // A bound on memory for workloads whose buffers never repeat.
    if (this.bindGroups.size >= 50_000) { this.bindGroups.clear(); this.groupsOfBuffer.clear(); }
    const group = this.device.createBindGroup({ layout, entries });
    const buffers = [...new Set(entries.map((e) => this.bufferId((e.resource as GPUBufferBinding).buffer)))];
    this.bindGroups.set(key, { group, buffers });
    for (const id of buffers) {
      let keys = this.groupsOfBuffer.get(id);
      if (!keys) this.groupsOfBuffer.set(id, (keys = new Set()));
      keys.add(key);
    }
    return group;
  }

  private forgetBindGroups(b: GPUBuffer): void {
    const id = this.bufferId(b);
    for (const key of this.groupsOfBuffer.get(id) ?? []) {
      for (const other of this.bindGroups.get(key)?.buffers ?? []) if (other !== id) this.groupsOfBuffer.get(other)?.delete(key);
      this.bindGroups.delete(key);
    }
    this.groupsOfBuffer.delete(id);
  }

  /** Storage for a kernel's output (see `upload` for storage written from the host). */
  alloc(dtype: DType, size: number): GpuStorage {
    return this.allocate(dtype, size, false);
  }

  private allocate(dtype: DType, size: number, forUpload: boolean): GpuStorage {
    const bytes = size * BYTES_PER_ELEMENT[dtype];
    // Every buffer is at least 4 bytes and a multiple of 4: bindings, copies and clears work in whole words.
    const need = Math.max(4, Math.ceil(bytes / 4) * 4);
    if (need > this.limits.maxBuffer) {
      throw new FactlabError(`webgpu: a ${dtype} tensor of ${size} elements (${bytes} bytes) exceeds this GPU's maxBufferSize of ${this.limits.maxBuffer} bytes`);
    }
    const buffer = this.pool.acquire(need, forUpload);
    this.bytes += bytes;
    this.live++;
    return { backend: this, dtype, size, refs: 0, buffer };
  }

  upload(dtype: DType, data: AnyTypedArray): GpuStorage {
    const s = this.allocate(dtype, data.length, true);
    if (data.byteLength > 0) {
      // writeBuffer takes whole words; an odd count of 16-bit elements is padded with one zero.
      const src = data.byteLength % 4 === 0 ? data : padToWord(data as Uint16Array);
      this.device.queue.writeBuffer(s.buffer, 0, src.buffer, src.byteOffset, src.byteLength);
    }
    if (dtype === 'int32' && data.length <= HOST_COPY_MAX) s.host = Int32Array.from(data as Int32Array);
    return s;
  }

  async read(storage: Storage, offset: number, size: number): Promise<AnyTypedArray> {
    const s = storage as GpuStorage;
    const bpe = BYTES_PER_ELEMENT[s.dtype];
    const out = allocTyped(s.dtype, size);
    await this.transfer(s.buffer, offset * bpe, (offset + size) * bpe, new Uint8Array(out.buffer));
    return out;
  }

  /** Submits what is recorded, waits for the GPU to finish it, and throws any GPU error or index fault it raised. */
  async sync(): Promise<void> {
    await this.transfer(null, 0, 0, new Uint8Array(0));
  }

  /**
   * Submits the open batch, copies bytes [from, to) of `buffer` and the fault words to a mapped staging buffer in
   * one submit, and once the GPU is done, reports GPU errors and faults before handing back the bytes.
   */
  private async transfer(buffer: GPUBuffer | null, from: number, to: number, dst: Uint8Array): Promise<void> {
    // Copies take whole words: the range is widened to them, and trimmed again below.
    const start = Math.floor(from / 4) * 4, end = Math.ceil(to / 4) * 4;
    const dataBytes = end - start;
    const faultsBefore = this.nextFault;
    const staging = this.device.createBuffer({ size: dataBytes + FAULT_WORDS * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    let fault: Int32Array;
    try {
      this.recorder.scoped(() => {
        const encoder = this.device.createCommandEncoder();
        if (buffer && dataBytes > 0) encoder.copyBufferToBuffer(buffer, start, staging, 0, dataBytes);
        encoder.copyBufferToBuffer(this.faultBuffer, 0, staging, dataBytes, FAULT_WORDS * 4);
        this.device.queue.submit([encoder.finish()]);
      });
      await staging.mapAsync(GPUMapMode.READ);
      // Copied out before unmapping, which detaches the mapped range.
      const mapped = staging.getMappedRange();
      fault = new Int32Array(mapped.slice(dataBytes, dataBytes + FAULT_WORDS * 4));
      dst.set(new Uint8Array(mapped, from - start, to - from));
      staging.unmap();
    } finally {
      staging.destroy();
    }
    await this.recorder.check();
    this.checkFault(fault, faultsBefore);
  }

  free(storage: Storage): void {
    const s = storage as GpuStorage;
    this.bytes -= s.size * BYTES_PER_ELEMENT[s.dtype];
    this.live--;
    this.pool.release(s.buffer, this.recorder.uses(s.buffer));
    delete s.host;
  }

  /** Bytes held by live tensors' storages (the elements asked for, not the size classes they were given). */
  allocatedBytes(): number { return this.bytes; }

  /** Storages alive: what leak tests count besides bytes. */
  liveStorages(): number { return this.live; }

  /** GPU buffers in existence (live, awaiting reuse and pooled): constant across the steps of a loop that does not leak. */
  bufferCount(): number { return this.pool.bufferCount(); }
  /** GPU buffers created since the backend started: growing from one round of a loop to the next means pool churn. */
  buffersCreated(): number { return this.pool.createdCount(); }
  /** GPU memory in buffers (in use or pooled) now, and the most since `resetPeakMemory` (peak memory of a benchmark). */
  memoryBytes(): number { return this.pool.bytes(); }
  peakMemoryBytes(): number { return this.pool.peakBytes(); }
  resetPeakMemory(): void { this.pool.resetPeak(); }

  pooledBytes(): number { return this.pool.pooledBytes(); }

  /** Whether kernels can be timed on the GPU (`timeKernels`). */
  get timestamps(): boolean { return this.device.features.has('timestamp-query'); }

  /**
   * Runs `fn` with every kernel it records timed by the GPU: the kernels in order, each with its op and its
   * milliseconds, and the number of dispatches beyond `capacity` that ran untimed. Each timed kernel runs in a
   * compute pass of its own, which costs a little; the times are of the kernels alone, without the host's recording.
   */
  async timeKernels<T>(fn: () => T | Promise<T>, capacity = 16384): Promise<{ result: T; kernels: KernelTime[]; dropped: number }> {
    if (!this.timestamps) throw noTimestamps(this.description);
    if (this.recorder.timer) throw new FactlabError('webgpu: timeKernels calls cannot nest');
    this.recorder.flush();
    const timer = new KernelTimer(this.device, capacity);
    this.recorder.timer = timer;
    let result: T;
    try {
      result = await fn();
      this.recorder.flush();
    } finally {
      this.recorder.timer = null;
    }
    const kernels = await timer.read();
    await this.recorder.check();
    return { result, kernels, dropped: timer.dropped };
  }

  /**
   * Destroys pooled buffers (for instance before a large allocation, or when memory is tight), and forgets the
   * largest working set so far, which otherwise lets the pool keep up to half of it (see BufferPool).
   */
  trimPool(): void {
    this.recorder.flush();
    this.pool.trim();
    this.pool.resetWorkingSet();
  }

  /** A code for a kernel that may find a bad index on the GPU; `describe` builds the error if it does. */
  registerFault(describe: FaultDescriber): number {
    // Describers are dropped by the read that follows their dispatch; a program that never reads keeps the newest.
    if (this.faults.size >= 65536) this.faults.delete(this.faults.keys().next().value!);
    const code = this.nextFault++;
    this.faults.set(code, describe);
    return code;
  }

  /** Throws the fault the GPU recorded, if any; forgets the describers of dispatches that were done before the read. */
  private checkFault(words: Int32Array, doneBefore: number): void {
    const code = words[0]!;
    const describe = code === 0 ? undefined : this.faults.get(code);
    for (const k of this.faults.keys()) if (k < doneBefore) this.faults.delete(k);
    if (code === 0) return;
    this.device.queue.writeBuffer(this.faultBuffer, 0, new Uint32Array(FAULT_WORDS));
    throw new FactlabError(describe
      ? `${describe(words[1]!, words[2]!)} (found on the GPU by an earlier op; its output has zeros there)`
      : `an op on the GPU met the out-of-range index ${words[1]} at position ${words[2]} (found on the GPU; its output has zeros there)`);
  }
}

function padToWord(data: Uint16Array): Uint16Array {
  const p = new Uint16Array(data.length + 1);
  p.set(data);
  return p;
}

/** The GPU storage of a tensor (for kernels). */
export function gpuStorage(t: Tensor): GpuStorage {
  if (!(t.storage.backend instanceof WebGPUBackend)) throw new FactlabError(`internal: tensor ${t.describe()} is not on the webgpu backend`);
  return t.storage as GpuStorage;
}

/** The host copy of an uploaded int32 tensor's elements, or null when it was made on the GPU. */
export function hostInt32(t: Tensor): Int32Array | null {
  const host = gpuStorage(t).host;
  return host ? host.subarray(t.offset, t.offset + t.size) : null;
}

let shared: Promise<WebGPUBackend> | undefined;

/**
 * The WebGPU backend, created on first call (later calls give the same one). Make it current with
 * `setBackend(await initWebGPU())`, or pass it as `{ backend }` when creating tensors.
 */
export function initWebGPU(opts: WebGPUOptions = {}): Promise<WebGPUBackend> {
  shared ??= requestGpuDevice().then(({ device, description, subgroups, keepAlive }) => {
    const backend = new WebGPUBackend(device, description, subgroups, opts);
    backend.keepAlive = keepAlive;
    void device.lost.then((info) => { if (info.reason !== 'destroyed') backend.recorder.fail(`the device was lost: ${info.message}`); });
    return backend;
  }).catch((e: unknown) => { shared = undefined; throw e; });
  return shared;
}
