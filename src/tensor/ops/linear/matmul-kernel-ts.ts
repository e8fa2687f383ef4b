/** TEMPORARY plain-TS kernel until the WebAssembly one lands (same signature as wasm.ts's matmulCpu). */
export function matmulCpu(a: Float32Array, b: Float32Array, out: Float32Array, o: { batch: number; m: number; k: number; n: number; transA: boolean; transB: boolean; strideA: number; strideB: number; accumulate?: boolean }): void {
  const { batch, m, k, n, transA, transB, strideA, strideB } = o;
  if (!o.accumulate) out.fill(0, 0, batch * m * n);
  for (let z = 0; z < batch; z++) {
    const ao = z * strideA, bo = z * strideB, co = z * m * n;
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const av = transA ? a[ao + p * m + i]! : a[ao + i * k + p]!;
        if (av === 0) continue;
        const row = co + i * n;
        if (transB) for (let j = 0; j < n; j++) out[row + j] += av * b[bo + j * k + p]!;
        else { const br = bo + p * n; for (let j = 0; j < n; j++) out[row + j] += av * b[br + j]!; }
      }
    }
  }
}
