import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConformance } from '../helpers/conformance.js';
import { IgnoreMatcher, loadDockerignore, parseIgnoreFile } from '../../src/context/index.js';
import { GantryError } from '../../src/util/errors.js';
import { makeTree, tempDir } from './tree.js';

interface ReadAllRow {
  test: string;
  input: string | null;
  expected: string[];
}

const readAllRows = loadConformance<{ ignorefileReadAll: ReadAllRow[] }>('dockerignore.json').ignorefileReadAll;

test("ignore file reading matches Docker's reader (conformance)", async () => {
  for (const row of readAllRows) {
    if (row.input === null) {
      // No reader at all: a context without a .dockerignore has no patterns.
      const { dir, cleanup } = await tempDir();
      try {
        const matcher = await loadDockerignore(dir);
        assert.equal(matcher.patterns.length, row.expected.length, row.test);
        assert.equal(matcher.file, undefined);
      } finally {
        await cleanup();
      }
      continue;
    }
    assert.deepEqual(parseIgnoreFile(row.input).map((l) => l.pattern), row.expected, row.test);
  }
});

test('byte order mark, CRLF line ends, and comments only in the first column', () => {
  const lines = parseIgnoreFile('\uFEFF# comment\r\n  # not a comment\r\n*.log\r\n! /keep.log \r\n/\n');
  assert.deepEqual(
    lines.map((l) => [l.pattern, l.line]),
    [
      ['# not a comment', 2],
      ['*.log', 3],
      ['!keep.log', 4],
      ['/', 5],
    ],
  );
});

test('patterns are cleaned: "./a/../b/" reads as "b"', () => {
  assert.deepEqual(parseIgnoreFile('./a/../b/\n!./c//d\n').map((l) => l.pattern), ['b', '!c/d']);
});

test('<Dockerfile>.dockerignore beside the Dockerfile takes precedence over the context one', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await makeTree(dir, {
      'ctx/.dockerignore': 'from-context\n',
      'ctx/Dockerfile': 'FROM scratch\n',
      'ctx/Dockerfile.dockerignore': 'from-dockerfile\n',
      'ci/Dockerfile.prod': 'FROM scratch\n',
      'ci/Dockerfile.prod.dockerignore': 'from-prod\n',
      'other/Dockerfile': 'FROM scratch\n',
    });
    const context = join(dir, 'ctx');
    const specific = await loadDockerignore(context, join(context, 'Dockerfile'));
    assert.deepEqual(specific.patterns.map((p) => p.text), ['from-dockerfile']);
    assert.equal(specific.file, join(context, 'Dockerfile.dockerignore'));

    const prod = await loadDockerignore(context, join(dir, 'ci', 'Dockerfile.prod'));
    assert.deepEqual(prod.patterns.map((p) => p.text), ['from-prod']);

    // No <Dockerfile>.dockerignore: the context's file applies.
    const fallback = await loadDockerignore(context, join(dir, 'other', 'Dockerfile'));
    assert.deepEqual(fallback.patterns.map((p) => p.text), ['from-context']);

    const stdin = await loadDockerignore(context);
    assert.deepEqual(stdin.patterns.map((p) => p.text), ['from-context']);
  } finally {
    await cleanup();
  }
});

test('an empty <Dockerfile>.dockerignore still wins (it ignores nothing)', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await makeTree(dir, { '.dockerignore': '*\n', Dockerfile: '', 'Dockerfile.dockerignore': '' });
    const matcher = await loadDockerignore(dir, join(dir, 'Dockerfile'));
    assert.equal(matcher.patterns.length, 0);
    assert.equal(matcher.isIgnored('anything'), false);
  } finally {
    await cleanup();
  }
});

test('a .dockerignore symlink resolves inside the context', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await makeTree(dir, { 'ctx/rules/ignore': 'secret\n', 'ctx/.dockerignore': { link: '/rules/ignore' } });
    const matcher = await loadDockerignore(join(dir, 'ctx'));
    assert.deepEqual(matcher.patterns.map((p) => p.text), ['secret']);
  } finally {
    await cleanup();
  }
});

test('a bad pattern is reported at its line in the ignore file', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await makeTree(dir, { '.dockerignore': '# deps\nnode_modules\nbuild[\n' });
    await assert.rejects(loadDockerignore(dir), (err: unknown) => {
      assert.ok(err instanceof GantryError);
      assert.match(err.message, /invalid pattern "build\["/);
      assert.equal(err.location?.line, 3);
      assert.equal(err.location?.lineText, 'build[');
      assert.match(err.location?.file ?? '', /\.dockerignore$/);
      return true;
    });
  } finally {
    await cleanup();
  }
});

test('describeExclusion names the deciding line', () => {
  const matcher = new IgnoreMatcher(undefined, parseIgnoreFile('docs\n!docs/README.md\n**/*.secret\n'));
  assert.equal(matcher.describeExclusion('docs/guide.md'), '.dockerignore line 1: "docs"');
  assert.equal(matcher.describeExclusion('docs/README.md'), undefined);
  assert.equal(matcher.describeExclusion('a/b/key.secret'), '.dockerignore line 3: "**/*.secret"');
  assert.equal(matcher.isIgnored('.'), false);
  assert.equal(matcher.hasExceptions, true);
});
