import type { AnyTypedArray, DType } from './dtype.js';
import type { Backend, Storage } from './backends/backend.js';
import { fmt, sizeOf, type Shape } from './shape.js';
import { FactlabError } from './errors.js';
import { released, releaseStorage, track } from './lifetime.js';

let nextId = 1;

/**
 * An n-dimensional array on one backend. Its elements are contiguous in row-major order inside `storage`,
 * starting at `offset`; reshapes and leading-axis slices are views that share the storage.
 * Values are read with the asynchronous `data()`; ops are free functions (see `ops/`).
 */
export class Tensor {
  readonly __tensor = true as const;
  readonly id = nextId++;
  readonly size: number;
  private disposed = false;

  /** Made by ops and creation functions; user code should use `tensor()`, `zeros()`, ... */
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly storage: Storage,
    readonly offset = 0,
  ) {
    this.size = sizeOf(shape);
    if (offset + this.size > storage.size) throw new FactlabError(`internal: view ${fmt(shape)}+${offset} exceeds its storage of ${storage.size}`);
    storage.refs++;
    track(this);
  }

  get rank(): number { return this.shape.length; }
  get backend(): Backend { return this.storage.backend; }
  get isDisposed(): boolean { return this.disposed; }

  /** A copy of the elements, read back from wherever the tensor lives. Always await it. */
  async data(): Promise<AnyTypedArray> {
    this.assertAlive('data');
    return this.storage.backend.read(this.storage, this.offset, this.size);
  }

  /** The single element of a one-element tensor, as a number. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new FactlabError(`item: tensor ${this.describe()} has ${this.size} elements, not 1`);
    return (await this.data())[0]!;
  }

  /** Elements as a nested JavaScript array (for printing and small results). */
  async toNested(): Promise<unknown> {
    const flat = Array.from(await this.data());
    const build = (dim: number, start: number): unknown => {
      if (dim === this.shape.length) return flat[start];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, start + i * stride));
    };
    return build(0, 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    released(this);
    releaseStorage(this.storage);
  }

  assertAlive(op: string): void {
    if (this.disposed) throw new FactlabError(`${op}: tensor #${this.id} ${this.dtype}${fmt(this.shape)} was already disposed`);
  }

  describe(): string {
    return `#${this.id} ${this.dtype}${fmt(this.shape)}`;
  }

  toString(): string {
    return `Tensor(${this.describe()} on ${this.backend.name})`;
  }
}
