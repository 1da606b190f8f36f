import { it } from 'node:test';
import suite from '../../attack/suites/disk-full.js';
import { runBoundedSuite } from './helpers.js';

it('disk-full: every store-writing command on a full disk fails clearly, keeps the store intact and succeeds once space is freed', { timeout: 240_000 }, async (t) => {
  await runBoundedSuite(t, suite, 10);
});
