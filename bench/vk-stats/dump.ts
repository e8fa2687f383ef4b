/**
 * The SPIR-V that Dawn makes of the matmul tile kernel under each forced plan, for vk-stats.c to compile on the GPU
 * machine: WebGPU says nothing of registers, and whether two workgroups of the tile kernel fit one multiprocessor is
 * what its speed hinges on (docs/performance.md, session 13's sweep).
 *   node dist/bench/vk-stats/dump.js --variants 8x8svbp,8x8svbpu --shapes 2048x2048x2048:nn,2048x2048x2048:nt --out DIR
 * Runs one small product per shape and variant on this machine's WebGPU adapter (lavapipe here: the SPIR-V is Tint's,
 * before any driver), with Dawn's dump_shaders toggle, and writes DIR/<shape>-<variant>.{wgsl,spvasm,spv}; the .spv
 * needs spirv-as (Debian's spirv-tools). Then, on the GPU machine: bench/vk-stats/vk-stats DIR/*.spv.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { useBackend } from '../../src/tensor/backends/by-name.js';
import type { WebGPUBackend } from '../../src/tensor/backends/webgpu/webgpu-backend.js';
import { randn } from '../../src/tensor/creation.js';
import { matmul } from '../../src/tensor/ops/linear/matmul.js';
import { forceMatmulPlan, splitsOf } from '../../src/tensor/ops/linear/matmul.wgsl.js';
import { parseVariant, VARIANT_GRAMMAR } from '../matmul-variants.js';

/** In the child: one product of `shape` under `variant`, so that the tile kernel is compiled (and dumped) once. */
async function one(shape: string, variant: string): Promise<void> {
  const m = /^(\d+)x(\d+)x(\d+):(nn|nt|tn)$/.exec(shape);
  if (!m) throw new Error(`--shapes: '${shape}' is not MxKxN:nn, :nt or :tn`);
  const [M, K, N] = [+m[1]!, +m[2]!, +m[3]!], transA = m[4] === 'tn', transB = m[4] === 'nt';
  const gpu = await useBackend('webgpu', 'the backend') as WebGPUBackend;
  const v = parseVariant(variant);
  if (v.kind === 'rows') throw new Error(`--variants: '${variant}' is not a tile plan`);
  const { split, ...p } = v;
  forceMatmulPlan({ ...p, splits: split ? splitsOf({ batch: 1, m: M, k: K, n: N, transA, transB, strideA: 0, strideB: 0 }, p) : p.splits });
  const a = randn(transA ? [K, M] : [M, K], 1), b = randn(transB ? [N, K] : [K, N], 2);
  matmul(a, b, { transA, transB }).dispose();
  await gpu.sync();
}

/** The tile kernel's WGSL and SPIR-V text among everything Dawn dumped. */
function tileKernel(out: string): { wgsl: string; spirv: string } | null {
  for (const block of out.split('// Dumped WGSL:').slice(1)) {
    const [wgsl, rest] = block.split('/* Dumped SPIRV disassembly */');
    if (!wgsl?.includes('var<workgroup> As') || !rest) continue;
    return { wgsl, spirv: rest.split(/\n(?:info:|warning:|\/\/ Dumped)/)[0]!.trim() + '\n' };
  }
  return null;
}

async function main(o: { variants: string; shapes: string; out: string }): Promise<void> {
  mkdirSync(o.out, { recursive: true });
  const self = fileURLToPath(import.meta.url);
  for (const shape of o.shapes.split(',')) {
    for (const variant of o.variants.split(',')) {
      parseVariant(variant);
      const r = spawnSync(process.execPath, [self, '--one', shape, variant], {
        encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, FACTLAB_DAWN_ENABLE: 'dump_shaders' },
      });
      const k = r.status === 0 ? tileKernel(r.stdout) : null;
      if (!k) throw new Error(`${shape} ${variant}: ${r.status === 0 ? 'Dawn dumped no tile kernel' : r.stderr.trim().split('\n').at(-1)}`);
      const stem = join(o.out, `${shape.replace(':', '-')}-${variant}`);
      writeFileSync(`${stem}.wgsl`, k.wgsl);
      // Debian bookworm's spirv-as does not know maximal reconvergence, which only orders subgroup operations.
      writeFileSync(`${stem}.spvasm`, k.spirv.replace(/^.*(?:MaximallyReconvergesKHR|SPV_KHR_maximal_reconvergence).*\n/gm, ''));
      const as = spawnSync('spirv-as', ['--target-env', 'spv1.4', '-o', `${stem}.spv.tmp`, `${stem}.spvasm`], { encoding: 'utf8' });
      if (as.status !== 0) throw new Error(`spirv-as ${stem}.spvasm: ${as.error?.message ?? as.stderr.trim()} (Debian's spirv-tools)`);
      renameSync(`${stem}.spv.tmp`, `${stem}.spv`);
      console.error(`wrote ${stem}.spv`);
    }
  }
}

if (process.argv[2] === '--one') {
  await one(process.argv[3]!, process.argv[4]!);
} else {
  const o = new Command('dump')
    .description('the SPIR-V of the matmul tile kernel under forced plans, for vk-stats')
    .requiredOption('--variants <list>', `forced tile plans, ${VARIANT_GRAMMAR} (bench/matmul-variants.ts)`)
    .option('--shapes <list>', 'products MxKxN:nn, :nt or :tn (the source depends on transposes and on whole tiles)', '256x256x256:nn,256x256x256:nt')
    .requiredOption('--out <dir>', 'where the .wgsl, .spvasm and .spv files go')
    .parse().opts<{ variants: string; shapes: string; out: string }>();
  await main(o).catch((e: Error) => { console.error(`dump: ${e.message}`); process.exitCode = 1; });
}
