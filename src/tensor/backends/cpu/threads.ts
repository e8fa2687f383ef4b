/**
 * Worker threads that run the WebAssembly kernels of wasm.ts on the same shared memory as the main thread.
 *
 * Why this shape: ops are synchronous, so the main thread cannot await workers. Instead each worker instantiates
 * the same module on the same shared WebAssembly.Memory and parks in Atomics.wait on its slot of a control block
 * (a separate SharedArrayBuffer, so that growing the wasm memory never moves it). To run a kernel the main thread
 * writes the kernel's index and arguments (as float64, which carries every i32/u32/f32 exactly) into each worker's
 * slot, flips its state to RUN and notifies; it then runs its own share and blocks in Atomics.wait (Node allows
 * that on the main thread) until every worker is back to IDLE; both sides spin briefly first (SPIN_MS). A round
 * trip still costs µs to tens of µs, so callers use threads only above a work threshold (see matmulCpu in wasm.ts).
 *
 * Failure handling: a kernel that throws in a worker (a trap, a bad argument) is caught there, its message is
 * posted on a private MessagePort and the slot set to FAILED; the main thread reads the message synchronously
 * (receiveMessageOnPort) and throws it. A worker that dies or hangs is caught by a timeout on the wait
 * (30 s plus 20× the main thread's own share, or FACTLAB_THREAD_TIMEOUT_MS), after which the pool is discarded
 * and rebuilt on the next call. Workers are unref'd: they never keep the process alive.
 *
 * Thread count: total threads including the main one; FACTLAB_THREADS (1 = no workers) or setThreadCount(), by
 * default os.availableParallelism() capped at 8. FACTLAB_THREAD_SPIN_MS: see SPIN_MS.
 *
 * Kernel authors do not use this file directly: see parallelFor / callKernel({ split }) in wasm.ts.
 */
import type * as Os from 'node:os';
import type * as WorkerThreads from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { envVar, nodeBuiltin, requireNodeBuiltin } from '../../node-builtins.js';
import { FactlabError } from '../../errors.js';

const workerThreads = () => requireNodeBuiltin<typeof WorkerThreads>('node:worker_threads', 'the CPU backend\'s worker threads');

const DEFAULT_MAX_THREADS = 8;
const MAX_THREADS = 64;

// Control block: one 512-byte slot per worker (a whole number of cache lines, so slots never share one).
const SLOT_BYTES = 512;
const ARGS_BYTE_OFFSET = 16;
export const MAX_KERNEL_ARGS = (SLOT_BYTES - ARGS_BYTE_OFFSET) / 8;
// Int32 fields of a slot.
const STATE = 0;
const KERNEL = 1;
const NARGS = 2;
// Slot states. BOOT is 0 so that a fresh (zeroed) control block means "not started yet".
export const SlotState = { BOOT: 0, IDLE: 1, RUN: 2, FAILED: 3, EXIT: 4 } as const;

let override: number | undefined;

/** Threads (including the main one) that kernels may use now. */
export function threadCount(): number {
  if (override !== undefined) return override;
  const env = envVar('FACTLAB_THREADS');
  if (env !== undefined && env !== '') {
    const t = Number(env);
    if (!Number.isInteger(t) || t < 1 || t > MAX_THREADS) throw new FactlabError(`FACTLAB_THREADS must be an integer in [1, ${MAX_THREADS}], got "${env}"`);
    return t;
  }
  // Outside Node (a browser) the kernels run on the calling thread alone.
  const os = nodeBuiltin<typeof Os>('node:os');
  return os ? Math.max(1, Math.min(os.availableParallelism(), DEFAULT_MAX_THREADS)) : 1;
}

/** Overrides FACTLAB_THREADS for this process (benchmarks, tests); undefined restores the default. */
export function setThreadCount(n: number | undefined): void {
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > MAX_THREADS)) throw new FactlabError(`setThreadCount: expected an integer in [1, ${MAX_THREADS}], got ${n}`);
  override = n;
}

// Both sides spin briefly before sleeping in Atomics.wait: waking a sleeping thread costs a futex wake and, in a
// VM, an interrupt to a halted vCPU, which can exceed a kernel share. Two threads vs one on an idle 2-vCPU VM,
// 64³ / 96³ / 128³ matmul: 0.7 / 0.8 / 0.9x without spinning, 1.1 / 1.5 / 1.7x with 0.05 ms, no better with 0.2.
// A worker keeps spinning this long after each share, so back-to-back calls find it awake. When the threads
// must share one core with other processes, each spin delays the other thread instead (a round trip measured
// 14 µs without spinning, 114 µs with 0.05 ms), hence FACTLAB_THREAD_SPIN_MS (0 = never spin) for such machines.
export const SPIN_MS = spinMs();

function spinMs(): number {
  const env = envVar('FACTLAB_THREAD_SPIN_MS');
  if (env === undefined || env === '') return 0.05;
  const ms = Number(env);
  if (!(ms >= 0)) throw new FactlabError(`FACTLAB_THREAD_SPIN_MS must be a non-negative number of milliseconds, got "${env}"`);
  return ms;
}

/** Spins up to `ms` while i32[index] === value; true if it changed. */
export function spinWhile(i32: Int32Array, index: number, value: number, ms: number): boolean {
  const end = performance.now() + ms;
  do {
    for (let i = 0; i < 256; i++) if (Atomics.load(i32, index) !== value) return true;
  } while (performance.now() < end);
  return false;
}

function timeoutMs(mainShareMs: number): number {
  const env = Number(envVar('FACTLAB_THREAD_TIMEOUT_MS'));
  return Number.isFinite(env) && env > 0 ? env : 30_000 + 20 * mainShareMs;
}

/** What a worker needs to instantiate the kernels: passed once, through workerData. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  slot: number;
  kernels: string[];
  port: MessagePort;
}

/** The slot layout, shared with threads-worker.ts so that both sides read the same fields. */
export function slotViews(control: SharedArrayBuffer, slot: number): { i32: Int32Array; args: Float64Array } {
  const byte = slot * SLOT_BYTES;
  return { i32: new Int32Array(control, byte, 4), args: new Float64Array(control, byte + ARGS_BYTE_OFFSET, MAX_KERNEL_ARGS) };
}
export const SLOT_FIELDS = { STATE, KERNEL, NARGS } as const;

interface PoolWorker { worker: WorkerThreads.Worker; port: MessagePort; i32: Int32Array; args: Float64Array }

/** Workers bound to one module and memory; `size` counts the main thread, so it holds size − 1 workers. */
export class KernelThreadPool {
  private readonly workers: PoolWorker[] = [];
  private readonly kernelIndex = new Map<string, number>();
  private broken = false;

  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, kernels: string[], readonly size: number) {
    kernels.forEach((name, i) => this.kernelIndex.set(name, i));
    const control = new SharedArrayBuffer(Math.max(1, size - 1) * SLOT_BYTES);
    const url = new URL('./threads-worker.js', import.meta.url);
    const { MessageChannel, Worker } = workerThreads();
    try {
      for (let slot = 0; slot < size - 1; slot++) {
        const { port1, port2 } = new MessageChannel();
        const init: WorkerInit = { module, memory, control, slot, kernels, port: port2 };
        const worker = new Worker(url, { workerData: init, transferList: [port2] });
        worker.unref();
        port1.unref();
        this.workers.push({ worker, port: port1, ...slotViews(control, slot) });
      }
      for (const [w, pw] of this.workers.entries()) {
        if (Atomics.wait(pw.i32, STATE, SlotState.BOOT, 20_000) === 'timed-out') throw new FactlabError(`kernel threads: worker ${w + 1} did not start within 20 s (${url.pathname})`);
        if (Atomics.load(pw.i32, STATE) === SlotState.FAILED) throw new FactlabError(`kernel threads: worker ${w + 1} failed to start: ${this.failure(pw)}`);
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  get usable(): boolean {
    return !this.broken;
  }

  /**
   * Runs `kernel` once per argument list: argLists[0] on the calling thread (through `runMain`), argLists[t] on
   * worker t, and returns when all have finished. At most `size` lists.
   */
  run(kernel: string, argLists: number[][], runMain: (args: number[]) => void): void {
    if (argLists.length > this.size) throw new FactlabError(`kernel threads: ${argLists.length} shares for a pool of ${this.size} threads`);
    const index = this.kernelIndex.get(kernel);
    if (index === undefined) throw new FactlabError(`kernel threads: no kernel "${kernel}" in the module`);
    const started: PoolWorker[] = [];
    for (let t = 1; t < argLists.length; t++) {
      const args = argLists[t]!;
      if (args.length > MAX_KERNEL_ARGS) throw new FactlabError(`kernel ${kernel}: ${args.length} arguments, threads pass at most ${MAX_KERNEL_ARGS}`);
      const pw = this.workers[t - 1]!;
      pw.i32[KERNEL] = index;
      pw.i32[NARGS] = args.length;
      pw.args.set(args);
      Atomics.store(pw.i32, STATE, SlotState.RUN);
      Atomics.notify(pw.i32, STATE);
      started.push(pw);
    }
    const t0 = performance.now();
    let mainError: unknown;
    try {
      runMain(argLists[0]!);
    } catch (e) {
      mainError = e;
    }
    // Always wait, even after a failure here: the workers are still writing into memory the next call reuses.
    const limit = timeoutMs(performance.now() - t0);
    let workerError: Error | undefined;
    for (const [w, pw] of started.entries()) {
      const deadline = performance.now() + limit;
      spinWhile(pw.i32, STATE, SlotState.RUN, SPIN_MS);
      while (Atomics.load(pw.i32, STATE) === SlotState.RUN) {
        const left = deadline - performance.now();
        if (left <= 0 || Atomics.wait(pw.i32, STATE, SlotState.RUN, left) === 'timed-out') {
          this.dispose();
          throw new FactlabError(`kernel ${kernel}: worker thread ${w + 1} did not finish within ${Math.round(limit)} ms (crashed or hung); the thread pool was discarded (set FACTLAB_THREADS=1 to run without workers)`);
        }
      }
      if (Atomics.load(pw.i32, STATE) === SlotState.FAILED) {
        workerError ??= new FactlabError(`kernel ${kernel} failed in worker thread ${w + 1}: ${this.failure(pw)}`);
        Atomics.store(pw.i32, STATE, SlotState.IDLE);
      }
    }
    if (mainError !== undefined) throw mainError;
    if (workerError) throw workerError;
  }

  private failure(pw: PoolWorker): string {
    const msg = workerThreads().receiveMessageOnPort(pw.port)?.message as { message?: string } | undefined;
    return msg?.message ?? 'no message (the worker died)';
  }

  /** Stops the workers (they are unref'd anyway; this frees them early). */
  dispose(): void {
    for (const pw of this.workers) {
      Atomics.store(pw.i32, STATE, SlotState.EXIT);
      Atomics.notify(pw.i32, STATE);
      void pw.worker.terminate();
      pw.port.close();
    }
    this.workers.length = 0;
    this.broken = true;
  }
}
