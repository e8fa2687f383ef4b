import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heatmapSvg } from './heatmap.js';
import { svgToPng } from './png.js';

test('a heatmap has a cell per value, escaped labels, grey rows without data, and renders to PNG', async () => {
  const svg = heatmapSvg({ title: 'a <b> & c', rowLabels: [' Tower', '\n', 'x'], values: [[0, 0.5], null, [1, 0.25]], colormap: 'Purples', xLabel: 'layer', colorbarLabel: 'effect' });
  assert.match(svg, /a &lt;b&gt; &amp; c/);
  assert.match(svg, />\\n</, 'a newline token is shown as \\n');
  assert.equal((svg.match(/<rect x="\d+" y="\d+" width="\d+" height="\d+" fill="rgb/g) ?? []).length, 4);
  assert.match(svg, /no token of this kind/);
  const png = await svgToPng(svg, 1);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
});

test('a long axis label under a narrow grid (a few layers) starts inside the figure and ends inside it', () => {
  const xLabel = 'layer (centre of the 10-layer window restored)';
  const svg = heatmapSvg({ title: 't', rowLabels: ['a'], values: [[0, 1, 0.5, 0.2]], colormap: 'Greens', xLabel, colorbarLabel: 'effect' });
  const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
  const x = Number(new RegExp(`<text x="([\\d.]+)"[^>]*>${xLabel.replace(/[()]/g, '\\$&')}<`).exec(svg)![1]);
  const half = (xLabel.length * 0.62 * 12) / 2;
  assert.ok(x - half >= 0, `the label starts at ${x - half}`);
  assert.ok(x + half <= width, `the label ends at ${x + half}, past the width ${width}`);
});
