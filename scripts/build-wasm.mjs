#!/usr/bin/env node
// Compiles every AssemblyScript kernel (src/**/*.as.ts) into the single module dist/wasm/kernels.wasm, which
// src/tensor/backends/cpu/wasm.ts loads. One module rather than one per op, so that all kernels share one memory,
// one scratch arena and one worker pool; an export name used by two files is therefore a compile error.
// Uses the locally installed compiler through its JS API, so it works after `npm ci` with no global tools.
import asc from 'assemblyscript/asc';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outFile = join(root, 'dist', 'wasm', 'kernels.wasm');

const sources = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.as.ts')) sources.push(relative(root, p).split(sep).join('/'));
  }
})(join(root, 'src'));
sources.sort();
if (sources.length === 0) { console.error('build-wasm: no src/**/*.as.ts files found'); process.exit(1); }

mkdirSync(dirname(outFile), { recursive: true });
const args = [
  ...sources,
  '--outFile', relative(root, outFile),
  '--optimizeLevel', '3', '--shrinkLevel', '0',
  '--noAssert',
  '--runtime', 'stub',
  '--enable', 'simd',
  '--enable', 'threads',
  // The memory comes from JS (wasm.ts) and is shared with the worker threads, which instantiate this same
  // module on it; 65536 pages (4 GiB) is the wasm32 ceiling, so the arena can grow as far as wasm32 allows.
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
];
// Diagnostics go straight to stderr; the error only summarises them.
const { error } = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
if (error) {
  console.error(`build-wasm: asc failed on ${sources.join(', ')}: ${error.message}`);
  process.exit(1);
}
const kb = (statSync(outFile).size / 1024).toFixed(1);
console.log(`build-wasm: ${sources.length} file(s) [${sources.join(', ')}] -> ${relative(root, outFile)} (${kb} KiB)`);
