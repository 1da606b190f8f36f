import { it } from 'node:test';
import suite from '../../attack/suites/hostile-archives.js';
import { runBoundedSuite } from './helpers.js';

it('hostile-archives: crafted tars, images and bombs through ADD, load and import fail cleanly, write nothing outside the store and leave it whole', { timeout: 300_000 }, async (t) => {
  await runBoundedSuite(t, suite, 90);
});
