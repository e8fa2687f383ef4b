import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './run.js';
import { randomModel } from '../models/random.js';
import { tinyMamba, tinyNeox } from '../models/testing/tiny-configs.js';
import { tensor } from '../tensor/creation.js';
import { liveTensors } from '../tensor/lifetime.js';
import type { LanguageModel } from '../models/model.js';
import type { GptNeoxConfig, MambaConfig } from '../io/config/config.js';
import type { Cut } from './types.js';

const models: [string, () => LanguageModel][] = [['mamba', () => randomModel(tinyMamba, 1)], ['gpt-neox', () => randomModel(tinyNeox(), 2)], ['gpt-neox sequential', () => randomModel(tinyNeox(false), 3)]];
const T = 7;
const ids = (rows: number[][]) => tensor(new Int32Array(rows.flat()), [rows.length, rows[0]!.length]);
const seqA = [5, 9, 2, 7, 31, 4, 6], seqB = [11, 3, 20, 7, 8, 17, 6];

async function logits(model: LanguageModel, x: number[][], cuts?: Cut[]): Promise<Float32Array> {
  const input = ids(x);
  const r = run(model, input, { cuts });
  const d = Float32Array.from(await r.logits.data());
  r.dispose(); input.dispose();
  return d;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!)); return m; };
const allLayers = (m: LanguageModel) => Array.from({ length: m.config.nLayer }, (_, l) => l);
const everyPosition = Array.from({ length: T }, (_, i) => i);

for (const [name, make] of models) {
  test(`${name}: cutting no source, or only later sources, changes nothing`, async () => {
    const model = make();
    const before = liveTensors();
    const clean = await logits(model, [seqA, seqB]);
    assert.deepEqual(await logits(model, [seqA, seqB], [{ layers: allLayers(model), sources: [] }]), clean);
    assert.deepEqual(await logits(model, [seqA, seqB], [{ layers: allLayers(model), sources: [4, 5, 6], targets: [3] }]), clean);
    assert.equal(liveTensors(), before);
    model.dispose();
  });

  test(`${name}: cutting all earlier flow into every position in every layer makes each output depend on its own token only`, async () => {
    const model = make();
    const cut: Cut[] = [{ layers: allLayers(model), sources: everyPosition, targets: everyPosition }];
    // seqA and seqB share the token at position 3 and the last one: with every edge cut, their outputs there agree.
    const [a, b] = [await logits(model, [seqA], cut), await logits(model, [seqB], cut)];
    const V = model.config.vocabSize, at = (x: Float32Array, t: number) => x.subarray(t * V, t * V + V);
    for (const t of [3, 6]) assert.ok(maxDiff(at(a, t), at(b, t)) < 1e-5, `position ${t}: ${maxDiff(at(a, t), at(b, t))}`);
    // Without the cuts they do not: the test can tell.
    const [ca, cb] = [await logits(model, [seqA]), await logits(model, [seqB])];
    assert.ok(maxDiff(at(ca, 6), at(cb, 6)) > 1e-3);
    model.dispose();
  });

  test(`${name}: a cut acts on its own rows only, as a batch of one row would`, async () => {
    const model = make();
    const cut: Cut = { layers: [1, 2], sources: [1, 2], targets: [-1, 4] };
    const together = await logits(model, [seqA, seqB], [{ ...cut, rows: [1] }]);
    const alone = await logits(model, [seqB], [cut]);
    const clean = await logits(model, [seqA]);
    const n = T * model.config.vocabSize;
    assert.ok(maxDiff(together.subarray(0, n), clean) < 1e-6);
    assert.ok(maxDiff(together.subarray(n), alone) < 1e-5);
    assert.ok(maxDiff(alone, await logits(model, [seqB])) > 1e-4, 'the cut changed nothing');
    model.dispose();
  });

  test(`${name}: bad cuts are named`, async () => {
    const model = make();
    const L = model.config.nLayer;
    assert.throws(() => run(model, ids([seqA]), { cuts: [{ layers: [L], sources: [0] }] }), new RegExp(`cut: layer ${L} is outside the model's ${L} layers`));
    assert.throws(() => run(model, ids([seqA]), { cuts: [{ layers: [0], sources: [9] }] }), /cut: source position 9 is outside the 7 tokens/);
    assert.throws(() => run(model, ids([seqA]), { cuts: [{ layers: [0], rows: [2], sources: [0] }] }), /cut: row 2 is outside the batch of 1/);
    assert.throws(() => run(model, ids([seqA, seqB]), { cuts: [{ layers: [0], sources: [[0], [1], [2]] }] }), /cut: 3 source lists for 2 rows/);
    model.dispose();
  });
}

// ---- Independent references: the cut layer's output recomputed naively in float64 from its captured inputs. ----

const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));
const silu = (x: number) => x / (1 + Math.exp(-x));

/**
 * Mamba's scan output at `target` with the sources' terms left out, from the unrolled sum
 *   y_i = Σ_{k ≤ i, k ∉ S} C_i · exp(A · Σ_{m=k+1..i} Δ_m) · Δ_k B_k u_k + [i ∉ S] D u_i,
 * where the target's own conv output leaves the sources' x out and every other position keeps its clean values.
 */
async function naiveCutMamba(model: LanguageModel, x: Float32Array, l: number, target: number, S: Set<number>): Promise<Float64Array> {
  const c = model.config as MambaConfig;
  const D = c.dInner, N = c.dState, R = c.dtRank, K = c.dConv;
  const P = async (n: string) => Float64Array.from(await model.params.get(`backbone.layers.${l}.mixer.${n}`)!.data());
  const [convW, convB, xw, dtW, dtB, Alog, Dv] = await Promise.all(['conv1d.weight', 'conv1d.bias', 'x_proj.weight', 'dt_proj.weight', 'dt_proj.bias', 'A_log', 'D'].map(P)) as Float64Array[];
  const conv = (t: number, leaveOut: Set<number>) => Float64Array.from({ length: D }, (_, d) => {
    let s = convB![d]!;
    for (let k = 0; k < K; k++) { const p = t - K + 1 + k; if (p >= 0 && !leaveOut.has(p)) s += convW![d * K + k]! * x[p * D + d]!; }
    return s;
  });
  const stepValues = (u: Float64Array) => {
    const proj = (row0: number, n: number) => Float64Array.from({ length: n }, (_, r) => { let s = 0; for (let d = 0; d < D; d++) s += xw![(row0 + r) * D + d]! * u[d]!; return s; });
    const dt = proj(0, R), Bv = proj(R, N), Cv = proj(R + N, N);
    const delta = Float64Array.from({ length: D }, (_, d) => { let s = dtB![d]!; for (let r = 0; r < R; r++) s += dtW![d * R + r]! * dt[r]!; return softplus(s); });
    return { u, delta, Bv, Cv };
  };
  const steps = Array.from({ length: target + 1 }, (_, t) => stepValues(conv(t, t === target ? S : new Set()).map(silu)));
  const y = new Float64Array(D);
  const Ct = steps[target]!.Cv;
  for (let d = 0; d < D; d++) {
    let acc = S.has(target) ? 0 : Dv![d]! * steps[target]!.u[d]!;
    for (let k = 0; k <= target; k++) {
      if (S.has(k)) continue;
      let dsum = 0;
      for (let m = k + 1; m <= target; m++) dsum += steps[m]!.delta[d]!;
      for (let n = 0; n < N; n++) acc += Ct[n]! * Math.exp(-Math.exp(Alog![d * N + n]!) * dsum) * steps[k]!.delta[d]! * steps[k]!.Bv[n]! * steps[k]!.u[d]!;
    }
    y[d] = acc;
  }
  return y;
}

test('mamba: the cut scan output agrees with the unrolled float64 reference, and other positions keep their clean values', async () => {
  const model = randomModel(tinyMamba, 4);
  const l = 1, D = (model.config as MambaConfig).dInner;
  const cuts: Cut[] = [{ layers: [l], rows: [0, 1], sources: [[1, 3, 4, 5], [0, 5]], targets: [[6, 5], [6]] }];
  const r = run(model, ids([seqA, seqB]), { cuts, capture: [`blocks.${l}.mixer.hook_x`, `blocks.${l}.mixer.hook_s`] });
  const clean = run(model, ids([seqA, seqB]), { capture: [`blocks.${l}.mixer.hook_s`] });
  const x = Float32Array.from(await r.captures.get(`blocks.${l}.mixer.hook_x`)!.data());
  const s = Float32Array.from(await r.captures.get(`blocks.${l}.mixer.hook_s`)!.data());
  const s0 = Float32Array.from(await clean.captures.get(`blocks.${l}.mixer.hook_s`)!.data());
  const at = (a: ArrayLike<number>, b: number, t: number) => Array.prototype.slice.call(a, (b * T + t) * D, (b * T + t + 1) * D) as number[];
  const expected: [number, number, number[]][] = [[0, 6, [1, 3, 4, 5]], [0, 5, [1, 3, 4, 5]], [1, 6, [0, 5]]];
  for (const [b, t, S] of expected) {
    const ref = await naiveCutMamba(model, x.subarray(b * T * D, (b + 1) * T * D), l, t, new Set(S));
    const got = at(s, b, t);
    const scale = Math.max(...ref.map(Math.abs));
    assert.ok(maxDiff(got, ref) < 1e-5 * Math.max(1, scale), `row ${b}, position ${t}: ${maxDiff(got, ref)}`);
    assert.ok(maxDiff(got, at(s0, b, t)) > 1e-4, `row ${b}, position ${t}: the cut changed nothing`);
  }
  // Without any cut the same reference gives the clean output (the reference itself is right).
  const ref0 = await naiveCutMamba(model, x.subarray(0, T * D), l, 6, new Set());
  assert.ok(maxDiff(at(s0, 0, 6), ref0) < 1e-5);
  for (const [b, t] of [[0, 0], [0, 2], [0, 4], [1, 5], [1, 3]] as const) assert.deepEqual(at(s, b, t), at(s0, b, t));
  r.dispose(); clean.dispose(); model.dispose();
});

test('gpt-neox: the cut attention output is softmax attention over the kept keys (float64 reference)', async () => {
  const model = randomModel(tinyNeox(), 5);
  const l = 2, H = (model.config as GptNeoxConfig).nHead, dh = model.config.dModel / H;
  const S = [0, 2, 3, 5], target = 5;
  const names = ['q', 'k', 'v', 'z'].map((n) => `blocks.${l}.attn.hook_${n}`);
  const r = run(model, ids([seqA]), { cuts: [{ layers: [l], sources: S, targets: [target] }], capture: names });
  const [q, k, v, z] = await Promise.all(names.map(async (n) => Float64Array.from(await r.captures.get(n)!.data())));
  for (let h = 0; h < H; h++) {
    const keys = Array.from({ length: target + 1 }, (_, j) => j).filter((j) => !S.includes(j));
    const score = keys.map((j) => { let s = 0; for (let e = 0; e < dh; e++) s += q![(h * T + target) * dh + e]! * k![(h * T + j) * dh + e]!; return s / Math.sqrt(dh); });
    const mx = Math.max(...score), w = score.map((s) => Math.exp(s - mx)), tot = w.reduce((a, b) => a + b, 0);
    for (let e = 0; e < dh; e++) {
      const ref = keys.reduce((acc, j, i) => acc + (w[i]! / tot) * v![(h * T + j) * dh + e]!, 0);
      const got = z![target * model.config.dModel + h * dh + e]!;
      assert.ok(Math.abs(got - ref) < 1e-5, `head ${h}, dim ${e}: ${got} vs ${ref}`);
    }
  }
  r.dispose(); model.dispose();
});

test('cuts in layers a forward pass starts above are an error, not a silent no-op', async () => {
  const model = randomModel(tinyMamba, 1);
  const residual = tensor(new Float32Array(T * model.config.dModel), [1, T, model.config.dModel]);
  assert.throws(() => run(model, ids([seqA]), { start: { layer: 2, residual }, cuts: [{ layers: [0], sources: [1] }] }), /cuts in layers 0 were never reached/);
  residual.dispose(); model.dispose();
});
