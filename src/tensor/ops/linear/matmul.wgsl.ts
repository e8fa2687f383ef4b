import type { Tensor } from '../../tensor.js';
import { launch } from '../../backends/webgpu/kernel.js';

/**
 * C = op(A)·op(B) in WGSL: 64×64 output tiles per workgroup of 256 invocations, each accumulating a 4×4 block in
 * registers, with 64×16 slabs of A and B staged through workgroup memory (8 KiB, within every adapter's 16 KiB).
 * Slabs are loaded so that neighbouring invocations read neighbouring addresses whichever operand is transposed;
 * the transposes are baked into the source (four pipelines). Batch items, row tiles and column tiles are numbered
 * flat over a 2-D grid, so a batched product of any size is one dispatch.
 */
export interface MatmulDims { batch: number; m: number; k: number; n: number; transA: boolean; transB: boolean; strideA: number; strideB: number }

export function matmulGpu(a: Tensor, b: Tensor, c: Tensor, d: MatmulDims): void {
  if (c.size === 0) return;
  const tilesM = Math.ceil(d.m / 64), tilesN = Math.ceil(d.n / 64);
  const aAt = d.transA ? 'gk * P.M + gi' : 'gi * P.K + gk';
  const bAt = d.transB ? 'gj * P.K + gk' : 'gk * P.N + gj';
  // Which tile coordinate runs fastest over the 256 loads: the one contiguous in memory.
  const aSplit = d.transA ? 'let i = e % 64u; let kk = e / 64u;' : 'let kk = e % 16u; let i = e / 16u;';
  const bSplit = d.transB ? 'let kk = e % 16u; let j = e / 16u;' : 'let j = e % 64u; let kk = e / 64u;';
  launch({
    op: 'matmul', workgroupSize: 256,
    operands: [{ name: 'a', tensor: a }, { name: 'b', tensor: b }, { name: 'c', tensor: c, write: true }],
    u32: { M: d.m, K: d.k, N: d.n, tilesM, tilesN, tiles: d.batch * tilesM * tilesN, strideA: d.strideA, strideB: d.strideB },
    code: `
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = flat_group(wid, nwg);
  if (g >= P.tiles) { return; }
  let tn = g % P.tilesN;
  let rest = g / P.tilesN;
  let tm = rest % P.tilesM;
  let item = rest / P.tilesM;
  let row0 = tm * 64u;
  let col0 = tn * 64u;
  let aOff = item * P.strideA;
  let bOff = item * P.strideB;
  let tx = lid % 16u;
  let ty = lid / 16u;
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < P.K; k0 = k0 + 16u) {
    for (var q = 0u; q < 4u; q = q + 1u) {
      let e = lid + q * 256u;
      ${aSplit}
      let gi = row0 + i;
      let gk = k0 + kk;
      var v = 0.0;
      if (gi < P.M && gk < P.K) { v = ld_a(aOff + ${aAt}); }
      As[kk * 64u + i] = v;
    }
    for (var q = 0u; q < 4u; q = q + 1u) {
      let e = lid + q * 256u;
      ${bSplit}
      let gj = col0 + j;
      let gk = k0 + kk;
      var v = 0.0;
      if (gj < P.N && gk < P.K) { v = ld_b(bOff + ${bAt}); }
      Bs[kk * 64u + j] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
      let av = vec4<f32>(As[kk * 64u + ty * 4u], As[kk * 64u + ty * 4u + 1u], As[kk * 64u + ty * 4u + 2u], As[kk * 64u + ty * 4u + 3u]);
      let bv = vec4<f32>(Bs[kk * 64u + tx * 4u], Bs[kk * 64u + tx * 4u + 1u], Bs[kk * 64u + tx * 4u + 2u], Bs[kk * 64u + tx * 4u + 3u]);
      acc[0] = acc[0] + av.x * bv;
      acc[1] = acc[1] + av.y * bv;
      acc[2] = acc[2] + av.z * bv;
      acc[3] = acc[3] + av.w * bv;
    }
    workgroupBarrier();
  }
  let cOff = item * P.M * P.N;
  for (var r = 0u; r < 4u; r = r + 1u) {
    let gi = row0 + ty * 4u + r;
    if (gi >= P.M) { break; }
    for (var q = 0u; q < 4u; q = q + 1u) {
      let gj = col0 + tx * 4u + q;
      if (gj < P.N) { st_c(cOff + gi * P.N + gj, acc[r][q]); }
    }
  }
}`,
    groups: d.batch * tilesM * tilesN,
  });
}
