import type { DType } from './dtype.js';
import type { Shape } from './shape.js';
import { Tensor } from './tensor.js';
import { FactlabError, opError } from './errors.js';
import { recordIfTracked } from './autodiff.js';

export interface TensorSpec { shape: Shape; dtype: DType }

export interface KernelCall<A> {
  readonly inputs: readonly Tensor[];
  /** Freshly allocated, not necessarily zeroed (GPU buffers are pooled): a kernel writes every element. */
  readonly outputs: readonly Tensor[];
  readonly attrs: A;
}
export type Kernel<A> = (call: KernelCall<A>) => void;

export interface BackwardContext<A> {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly attrs: A;
  /**
   * Whether each input's gradient is wanted (it depends on a tensor being differentiated). A backward may return
   * null for the others instead of computing them: a weight's gradient costs as much as the input's, and nothing
   * reads it when only activations or an edit vector are differentiated (ROME's v*, LRE's Jacobian).
   */
  readonly needs: readonly boolean[];
}

/**
 * An op: how to check its inputs, its kernel for each backend, and its gradient. One file under ops/ holds the
 * definition, the kernels and the backward, and a `.spec.ts` beside it holds the one test that every backend runs.
 */
export interface OpDef<A = Record<string, never>> {
  readonly name: string;
  /** Validates the inputs and gives the outputs' shapes and dtypes; throws `opError` naming op and shapes. */
  infer(inputs: readonly Tensor[], attrs: A): TensorSpec[];
  /** Kernels by backend name. */
  readonly kernels?: Readonly<Record<string, Kernel<A>>>;
  /** For views: output 0 shares input 0's storage, this many elements past input 0's offset; no kernel runs. */
  viewOffset?(input: Tensor, attrs: A): number;
  /** Gradients of the inputs given the outputs' gradients (null where an output got none); null = no gradient. */
  backward?(grads: readonly (Tensor | null)[], ctx: BackwardContext<A>): (Tensor | null)[];
  /** Exists only inside another op's backward; its correctness is checked by that op's gradient test. */
  readonly internal?: boolean;
  /** Has no gradient (argmax, comparisons): tested forward only, and cuts the tape. */
  readonly nondifferentiable?: boolean;
}

const registry = new Map<string, OpDef<never>>();

export function defineOp<A>(def: OpDef<A>): OpDef<A> {
  if (registry.has(def.name)) throw new FactlabError(`internal: op ${def.name} is defined twice`);
  registry.set(def.name, def as unknown as OpDef<never>);
  return def;
}

export function registeredOps(): OpDef<unknown>[] {
  return [...registry.values()] as unknown as OpDef<unknown>[];
}

export function getOp(name: string): OpDef<unknown> {
  const def = registry.get(name);
  if (!def) throw new FactlabError(`internal: no op named ${name}`);
  return def as unknown as OpDef<unknown>;
}

/** Runs an op: checks, allocates, dispatches to the inputs' backend, and records it on any tape that tracks an input. */
export function runOp<A>(def: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor[] {
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (!(t instanceof Tensor)) throw opError(def.name, `input #${i} is not a tensor (got ${t === null ? 'null' : typeof t})`);
    t.assertAlive(def.name);
  }
  const backend = inputs[0]?.backend;
  if (backend && inputs.some((t) => t.backend !== backend)) {
    throw opError(def.name, `inputs live on different backends (${inputs.map((t) => t.backend.name).join(', ')})`, inputs);
  }
  const specs = def.infer(inputs, attrs);
  let outputs: Tensor[];
  if (def.viewOffset) {
    const src = inputs[0]!;
    outputs = [new Tensor(specs[0]!.shape, specs[0]!.dtype, src.storage, src.offset + def.viewOffset(src, attrs))];
  } else {
    if (!backend) throw new FactlabError(`internal: op ${def.name} has no inputs to take a backend from`);
    const kernel = def.kernels?.[backend.name];
    if (!kernel) throw opError(def.name, `has no kernel for the ${backend.name} backend`, inputs);
    outputs = specs.map((s) => {
      let size = 1;
      for (const d of s.shape) size *= d;
      return new Tensor(s.shape, s.dtype, backend.alloc(s.dtype, size));
    });
    try {
      kernel({ inputs, outputs, attrs });
    } catch (e) {
      for (const o of outputs) o.dispose();
      throw e;
    }
  }
  recordIfTracked(def as OpDef<unknown>, inputs, outputs, attrs);
  return outputs;
}
