#!/usr/bin/env node
// Bundles the browser page (src/web/app.ts and everything it imports) into dist/web/app.js with esbuild, beside a
// copy of src/web/index.html. Built for the browser platform, so a static import of a node: module anywhere in the
// page's graph fails the build. The two packages left out load only in Node: Dawn (`webgpu`, which a browser's
// navigator.gpu replaces) and the PNG renderer (`@resvg/resvg-js`, for figures written to files).
//   node scripts/build-web.mjs [OUTDIR]
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/** Builds the page into `outdir`; returns the bundle's path. */
export async function buildWeb(outdir = 'dist/web') {
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, 'app.js');
  await build({
    entryPoints: ['src/web/app.ts'], bundle: true, platform: 'browser', format: 'esm', target: 'es2022',
    outfile, external: ['webgpu', '@resvg/resvg-js'], logLevel: 'error',
  });
  copyFileSync('src/web/index.html', join(outdir, 'index.html'));
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await buildWeb(process.argv[2]);
  } catch {
    // esbuild has printed what failed.
    process.exit(1);
  }
}
