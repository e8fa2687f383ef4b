import { test } from 'node:test';
import { checkCopyRows } from './copy-rows.checks.js';

test('copyRowsInPlace copies rows in place on the CPU, and refuses shared or recorded tensors', () => checkCopyRows());
