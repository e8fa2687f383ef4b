import { fileURLToPath } from 'node:url';

/** The reference models written by transformers (test/fixtures/models; see its README). */
export const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/models/', import.meta.url));
