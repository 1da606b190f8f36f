/** Hostile .dockerignore files: refused over the size limit before reading, matched without backtracking. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IgnoreMatcher, loadDockerignore, MAX_IGNORE_FILE_BYTES, parseIgnoreFile, PatternMatcher } from '../../src/context/index.js';
import { MAX_MATCH_STEPS } from '../../src/context/pattern-matcher.js';
import { GantryError } from '../../src/util/errors.js';
import { makeTree, tempDir } from './tree.js';

test('a .dockerignore over the size limit is refused with its size, the limit and its location', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const lines = Math.ceil(MAX_IGNORE_FILE_BYTES / 6);
    await makeTree(dir, { '.dockerignore': '*.log\n'.repeat(lines) });
    await assert.rejects(loadDockerignore(dir), (err: unknown) => {
      assert.ok(err instanceof GantryError);
      assert.match(err.message, new RegExp(`\\.dockerignore is ${lines * 6} bytes, more than the limit of 262144 bytes \\(256 KiB\\) for an ignore file$`));
      assert.equal(err.location?.line, 1);
      assert.ok(err.hint);
      return true;
    });
    // Just under the limit it loads.
    await makeTree(dir, { '.dockerignore': '*.log\n'.repeat(lines - 1) });
    assert.equal((await loadDockerignore(dir)).patterns.length, lines - 1);
  } finally {
    await cleanup();
  }
});

test('patterns with many wildcards match in linear time (a backtracking RegExp took 20 s on 60 characters)', () => {
  const started = Date.now();
  const matcher = new PatternMatcher(['*a*a*a*a*a*a*a*a*a*a*b', '**/a**/a**/a**/a**/b', '?*?*?*?*?*?*?*z']);
  assert.equal(matcher.matches('a'.repeat(4_000)), false);
  assert.equal(matcher.matches(`${'a/'.repeat(1_000)}b`), true);
  assert.equal(matcher.matches(`${'a'.repeat(4_000)}b`), true);
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
});

test('the automaton keeps Docker\'s semantics: classes may match a slash, "**" spans directories, "*" does not', () => {
  const matcher = (pattern: string) => new PatternMatcher([pattern]);
  assert.equal(matcher('a[^x]b').matches('a/b'), true);
  assert.equal(matcher('a/**/b').matches('a/x/y/b'), true);
  assert.equal(matcher('a/**/b').matches('a/b'), true);
  assert.equal(matcher('a*b').matches('a/b'), false);
  assert.equal(matcher('a?b').matches('a/b'), false);
  assert.equal(matcher('a\\*b').matches('a*b'), true);
  assert.equal(matcher('a\\*b').matches('axb'), false);
  assert.equal(matcher('x/**').matches('x/y\nz'), true);
  assert.equal(matcher('[é-ü]x').matches('ñx'), true);
});

test('a pattern too costly to match against a path is a located error, not a hang', () => {
  const pattern = '*a'.repeat(60_000);
  const lines = parseIgnoreFile(`ok\n${pattern}\n`);
  const matcher = new IgnoreMatcher('/context/.dockerignore', lines, '.dockerignore');
  const started = Date.now();
  assert.throws(
    // Every character adds two live states, so a path of n characters takes about n² steps.
    () => matcher.isIgnored('a'.repeat(Math.ceil(Math.sqrt(MAX_MATCH_STEPS)) + 200)),
    (err: unknown) => err instanceof GantryError && /too costly to match/.test(err.message) && err.location?.line === 2 && err.message.length < 600,
  );
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
});

test('odd bytes in a .dockerignore are read as Docker reads them, never an internal error', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const variants = [
      Buffer.from('\ufeff*.log\r\n!keep.log\r\n'),
      Buffer.concat([Buffer.from('a\u0000b\n'), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('[\n')]),
      Buffer.from('!\n'),
      Buffer.from('[z-a]\n'),
    ];
    const outcomes: string[] = [];
    for (const bytes of variants) {
      await writeFile(join(dir, '.dockerignore'), bytes);
      try {
        const matcher = await loadDockerignore(dir);
        outcomes.push(`${matcher.patterns.length} patterns, ${matcher.isIgnored('x.log')}`);
      } catch (err) {
        assert.ok(err instanceof GantryError && err.location, String(err));
        outcomes.push(`error at line ${err.location.line}`);
      }
    }
    assert.deepEqual(outcomes, ['2 patterns, true', 'error at line 3', 'error at line 1', 'error at line 1']);
  } finally {
    await cleanup();
  }
});
