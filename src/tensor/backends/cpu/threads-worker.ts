/**
 * Body of one kernel worker thread (see threads.ts for the protocol): instantiates the kernel module on the shared
 * memory, then serves RUN requests from its control slot until told to EXIT. It never returns to its event loop
 * while serving, so the only way in is the control slot; errors go back on the private port.
 */
import { workerData } from 'node:worker_threads';
import { SLOT_FIELDS, SlotState, slotViews, SPIN_MS, spinWhile, type WorkerInit } from './threads.js';

const init = workerData as WorkerInit;
const { i32, args } = slotViews(init.control, init.slot);

function fail(e: unknown): void {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  init.port.postMessage({ message });
  Atomics.store(i32, SLOT_FIELDS.STATE, SlotState.FAILED);
  Atomics.notify(i32, SLOT_FIELDS.STATE);
}

let kernels: ((...a: number[]) => unknown)[] = [];
try {
  const instance = new WebAssembly.Instance(init.module, {
    env: {
      memory: init.memory,
      abort: () => { throw new Error('abort() called in a kernel'); },
    },
  });
  const exports = instance.exports as Record<string, unknown>;
  kernels = init.kernels.map((name) => exports[name] as (...a: number[]) => unknown);
  Atomics.store(i32, SLOT_FIELDS.STATE, SlotState.IDLE);
  Atomics.notify(i32, SLOT_FIELDS.STATE);
} catch (e) {
  fail(e);
}

for (;;) {
  const state = Atomics.load(i32, SLOT_FIELDS.STATE);
  if (state === SlotState.EXIT) break;
  if (state !== SlotState.RUN) {
    if (!spinWhile(i32, SLOT_FIELDS.STATE, state, SPIN_MS)) Atomics.wait(i32, SLOT_FIELDS.STATE, state);
    continue;
  }
  try {
    const n = i32[SLOT_FIELDS.NARGS]!;
    const list: number[] = new Array<number>(n);
    for (let i = 0; i < n; i++) list[i] = args[i]!;
    kernels[i32[SLOT_FIELDS.KERNEL]!]!(...list);
    Atomics.store(i32, SLOT_FIELDS.STATE, SlotState.IDLE);
    Atomics.notify(i32, SLOT_FIELDS.STATE);
  } catch (e) {
    fail(e);
  }
}
init.port.close();
