#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's built-in test runner, then runs the op suite and the
// WebGPU backend's own tests again on the WebGPU backend (FACTLAB_BACKEND=webgpu), when a WebGPU adapter exists
// (on a machine without a GPU, Mesa's lavapipe provides one; .ci/run installs it).
// Extra arguments filter by path substring: `npm test -- ops` runs only files whose path contains "ops".
// Environment: FACTLAB_WEBGPU=0 skips the WebGPU pass; FACTLAB_REQUIRE_WEBGPU=1 (set by CI) makes a missing
// adapter a failure instead of a skipped pass.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';

const root = 'dist';
if (!existsSync(root)) { console.error('dist/ is missing: run `npm run build` first'); process.exit(2); }
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
const chosen = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
// Tests of the WebGPU backend itself, and `*.gpu.test.js` files anywhere (a model or method on the GPU against the
// CPU), need an adapter: they run only in the WebGPU pass.
const webgpuOnly = (f) => f.includes(`${sep}backends${sep}webgpu${sep}`) || f.endsWith('.gpu.test.js');
const onBothBackends = (f) => f.endsWith(`${sep}ops${sep}ops.test.js`);
const cpuFiles = chosen.filter((f) => !webgpuOnly(f));
const gpuFiles = chosen.filter((f) => webgpuOnly(f) || onBothBackends(f));
if (cpuFiles.length === 0 && gpuFiles.length === 0) { console.error('no test files matched'); process.exit(2); }

function run(list, env) {
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...list], { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

let status = cpuFiles.length > 0 ? run(cpuFiles, { FACTLAB_BACKEND: 'cpu' }) : 0;

if (gpuFiles.length > 0 && process.env.FACTLAB_WEBGPU !== '0') {
  // A separate process, so that a driver that crashes while creating the device cannot take this runner with it.
  const probe = spawnSync(process.execPath, ['--input-type=module', '-e', `
    try {
      const { initWebGPU } = await import('./dist/src/tensor/backends/webgpu/webgpu-backend.js');
      console.log((await initWebGPU()).description);
      process.exit(0);
    } catch (e) {
      console.error(e.message);
      process.exit(1);
    }`], { encoding: 'utf8', timeout: 120000 });
  if (probe.status === 0) {
    console.log(`\nWebGPU pass on ${probe.stdout.trim()}: ${gpuFiles.join(', ')}\n`);
    status = run(gpuFiles, { FACTLAB_BACKEND: 'webgpu' }) || status;
  } else {
    const why = (probe.stderr || probe.stdout || `exit status ${probe.status}`).trim().split('\n').filter((l) => !l.startsWith('Warning:')).slice(-3).join('\n');
    if (process.env.FACTLAB_REQUIRE_WEBGPU === '1') {
      console.error(`\nFAIL: no WebGPU adapter, so the op suite cannot run on the webgpu backend:\n${why}`);
      status = status || 1;
    } else {
      console.log(`\nWebGPU pass skipped (no adapter; set FACTLAB_REQUIRE_WEBGPU=1 to make this fail):\n${why}`);
    }
  }
}
process.exit(status);
