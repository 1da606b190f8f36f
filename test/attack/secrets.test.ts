import { it } from 'node:test';
import suite from '../../attack/suites/secrets.js';
import { runBoundedSuite } from './helpers.js';

it('secrets: no build secret is found in the store, outputs, progress, errors or host temp dirs, even after a SIGKILL', { timeout: 240_000 }, async (t) => {
  await runBoundedSuite(t, suite, 7);
});
