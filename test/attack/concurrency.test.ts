import { it } from 'node:test';
import suite from '../../attack/suites/concurrency.js';
import { runBoundedSuite } from './helpers.js';

it('concurrency: builds, pushes, imports, loads and pulls racing prune and each other leave every named image whole', { timeout: 240_000 }, async (t) => {
  await runBoundedSuite(t, suite, 10);
});
