import { it } from 'node:test';
import suite from '../../attack/suites/hostile-registry.js';
import { runBoundedSuite } from './helpers.js';

it('hostile-registry: a misbehaving registry and crafted content through pull, push, build and --cache-from fail cleanly and name nothing invalid', { timeout: 300_000 }, async (t) => {
  await runBoundedSuite(t, suite, 45);
});
