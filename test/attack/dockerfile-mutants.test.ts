/** The dockerfile-mutants attack suite at its bounded scale: every mutated input ends in a success or a clear error. */
import { test } from 'node:test';
import suite from '../../attack/suites/dockerfile-mutants.js';
import { runBoundedSuite } from './helpers.js';

test('mutated Dockerfiles and .dockerignore files: no crash, no hang, no runaway memory', { timeout: 240_000 }, async (t) => {
  await runBoundedSuite(t, suite, 1300);
});
