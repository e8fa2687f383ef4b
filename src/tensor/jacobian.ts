import { Tensor } from './tensor.js';
import { tidy } from './lifetime.js';
import { FactlabError } from './errors.js';
import { fmt } from './shape.js';
import { tensor } from './creation.js';
import { vjp } from './autodiff.js';
import { broadcastTo } from './ops/shape/broadcast.js';
import { slice } from './ops/shape/slice.js';
import { concat } from './ops/shape/concat.js';
// Accumulating gradients in the backward pass runs 'add' by name; importing it here registers it.
import './ops/elementwise/binary.js';

export interface JacobianOptions {
  /** Rows of the Jacobian computed per batched forward and backward pass. */
  chunk?: number;
}

/**
 * The Jacobian ∂f(x)/∂x of a function that maps each row of a [B, n] batch to a row of [B, m] independently
 * (a model forward over a batch is such a function). `x` has shape [n]; the result has shape [m, n].
 * Rows are computed `chunk` at a time: the input is repeated `chunk` times, one forward pass runs on the batch,
 * and one backward pass with one-hot seeds yields `chunk` rows at once.
 */
export function jacobian(f: (xBatch: Tensor) => Tensor, x: Tensor, opts: JacobianOptions = {}): Tensor {
  if (x.rank !== 1) throw new FactlabError(`jacobian: x must be a vector, got ${x.describe()}`);
  const n = x.shape[0]!;
  const chunk = Math.max(1, Math.floor(opts.chunk ?? 64));
  return tidy(() => {
    const rows: Tensor[] = [];
    let m = -1;
    for (let start = 0; m < 0 || start < m; start += chunk) {
      const k = m < 0 ? chunk : Math.min(chunk, m - start);
      const xb = broadcastTo(x, [k, n]);
      const v = vjp(() => f(xb), [xb]);
      try {
        const y = v.value;
        if (y.rank !== 2 || y.shape[0] !== k) throw new FactlabError(`jacobian: f must map [B, ${n}] to [B, m]; for B=${k} it gave ${fmt(y.shape)}`);
        if (m < 0) m = y.shape[1]!;
        const kk = Math.min(k, m - start);
        const oneHot = new Float32Array(k * m);
        for (let r = 0; r < kk; r++) oneHot[r * m + start + r] = 1;
        const seed = tensor(oneHot, [k, m], { backend: x.backend });
        const [g] = v.pullback(seed);
        rows.push(kk === k ? g! : slice(g!, 0, 0, kk));
      } finally {
        v.dispose();
      }
    }
    return rows.length === 1 ? rows[0]! : concat(rows, 0);
  });
}
