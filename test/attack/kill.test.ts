import { it } from 'node:test';
import suite from '../../attack/suites/kill.js';
import { runBoundedSuite } from './helpers.js';

it('kill: SIGKILL at random moments of store-writing commands leaves a whole store and clean leftovers', { timeout: 240_000 }, async (t) => {
  await runBoundedSuite(t, suite, 10);
});
