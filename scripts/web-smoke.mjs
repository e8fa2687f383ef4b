#!/usr/bin/env node
// Runs the built browser page (dist/web) in a real Chromium with WebGPU: serves the folder, picks a model folder in
// the page's file input, predicts the next token and traces a fact, as a user would, and prints what the page shows.
// Not part of `npm test` (CI has no browser); run it by hand after `npm run build`:
//   node scripts/web-smoke.mjs [MODEL_DIR] [--chromium PATH]
// Without a GPU, Chromium's WebGPU runs on SwiftShader (--use-vulkan=swiftshader). Exits 1 when the page fails.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, resolve } from 'node:path';
import puppeteer from 'puppeteer-core';

const args = process.argv.slice(2);
const at = args.indexOf('--chromium');
const chromium = at >= 0 ? args.splice(at, 2)[1] : process.env.CHROMIUM ?? '/usr/bin/chromium';
const modelDir = resolve(args[0] ?? 'models/mamba-organism');
const root = resolve('dist/web');
for (const [path, what] of [[join(root, 'app.js'), 'the built page (run `npm run build`)'], [chromium, 'Chromium (--chromium PATH)'], [modelDir, 'the model folder']]) {
  if (!existsSync(path)) { console.error(`web-smoke: ${path}: no such file; it should be ${what}`); process.exit(1); }
}

const types = { '.html': 'text/html', '.js': 'text/javascript' };
const server = createServer((req, res) => {
  const file = join(root, new URL(req.url, 'http://x').pathname.replace(/^\/$/, '/index.html'));
  if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
}).listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));

const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader'] });
let failed = false;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => { failed = true; console.error(`page error: ${e.message}`); });
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  const status = () => page.$eval('#status', (e) => ({ text: e.textContent, error: e.className === 'error' }));
  /** Waits until `ready` holds in the page or the status line reports an error; returns the status. */
  const settle = async (ready, what) => {
    await page.waitForFunction(`(${ready})() || document.querySelector('#status').className === 'error'`, { timeout: 600000 });
    const s = await status();
    if (s.error) throw new Error(`${what}: ${s.text}`);
    return s.text;
  };
  // A directory input takes the folder itself.
  await (await page.$('#folder')).uploadFile(modelDir);
  console.log(`loaded: ${await settle(() => !document.querySelector('#next').disabled, 'loading')}`);
  await page.click('#next');
  await settle(() => document.querySelector('#tokens table') !== null, 'predicting');
  console.log(`next token: ${await page.$eval('#tokens', (e) => e.innerText.split('\n').slice(1, 4).join('; '))}`);
  await page.type('#alt', 'The Colosseum');
  await page.click('#trace');
  const traced = await settle(() => document.querySelectorAll('#figures svg').length > 0, 'tracing');
  console.log(`traced: ${traced}; ${await page.$$eval('#figures svg', (s) => s.length)} heatmaps`);
} catch (e) {
  failed = true;
  console.error(`web-smoke: ${e.message}`);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
