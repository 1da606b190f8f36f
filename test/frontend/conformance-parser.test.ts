/** BuildKit's parser test files: the AST dump must match BuildKit's `result` byte for byte. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConformance } from '../helpers/conformance.js';
import { dumpDockerfileAst } from '../../src/frontend/index.js';
import { GantryError } from '../../src/util/errors.js';

interface ParserFixtures {
  positive: Array<{ name: string; dockerfile: string; result: string }>;
  negative: Array<{ name: string; dockerfile: string }>;
}

const fixtures = loadConformance<ParserFixtures>('buildkit/parser-fixtures.json');

test('parser fixtures: 33 positive and 4 negative cases are present', () => {
  assert.equal(fixtures.positive.length, 33);
  assert.equal(fixtures.negative.length, 4);
});

for (const fixture of fixtures.positive) {
  test(`parser fixture ${fixture.name} dumps as BuildKit does`, () => {
    assert.equal(dumpDockerfileAst(fixture.dockerfile, 'Dockerfile'), fixture.result);
  });
}

for (const fixture of fixtures.negative) {
  test(`parser fixture ${fixture.name} is rejected with a located error`, () => {
    assert.throws(
      () => dumpDockerfileAst(fixture.dockerfile, 'Dockerfile'),
      (err: unknown) => err instanceof GantryError && err.location?.file === 'Dockerfile',
    );
  });
}
