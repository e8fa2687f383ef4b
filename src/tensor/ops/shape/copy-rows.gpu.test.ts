import { test } from 'node:test';
import { initWebGPU } from '../../backends/webgpu/webgpu-backend.js';
import { checkCopyRows } from './copy-rows.checks.js';

const gpu = await initWebGPU();
test('copyRowsInPlace copies rows in place on the GPU, and refuses shared or recorded tensors', () => checkCopyRows(gpu));
