import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConformance } from '../helpers/conformance.js';
import { PatternMatcher, type ParentMatch } from '../../src/context/pattern-matcher.js';
import { Glob, GlobSyntaxError } from '../../src/context/glob.js';
import { dirPath } from '../../src/context/go-path.js';
import { GantryError } from '../../src/util/errors.js';

interface MatchRow {
  pattern: string;
  text: string;
  pass: boolean;
  goLine: number;
}
interface MultiRow {
  patterns: string[];
  text: string;
  pass: boolean;
  goLine: number;
}
interface GoMatchRow {
  pattern: string;
  s: string;
  match: boolean;
  err: string | null;
  goLine: number;
  sameUnderMatchesOrParentMatches: boolean;
}
interface ExclusionRow {
  test: string;
  text: string;
  patterns: string[];
  goLine: number;
  matchesOrParentMatchesResult: { match: boolean; error: boolean };
}
interface NewPatternRow {
  test: string;
  patterns: string[];
  expectError: boolean;
  expectPatternCount?: number;
  expectExclusions?: boolean;
  derivedCleanedPatterns?: string[];
  derivedError?: string;
  then?: { text: string };
}
interface CompileRow {
  pattern: string;
  matchType: 'exactMatch' | 'prefixMatch' | 'suffixMatch' | 'regexpMatch';
  compiledRegexp: string | null;
  goLine: number;
}
interface DockerignoreTable {
  counts: Record<string, number>;
  matches: MatchRow[];
  multiPatternMatches: MultiRow[];
  matchTests: GoMatchRow[];
  exclusionAndErrorTests: ExclusionRow[];
  newPatternTests: NewPatternRow[];
  compileTests: CompileRow[];
}

const table = loadConformance<DockerignoreTable>('dockerignore.json');

/** MatchesUsingParentResults with the parents walked first, as a directory walk does. */
function matchByWalking(matcher: PatternMatcher, text: string): boolean {
  const parent = dirPath(text);
  let state: ParentMatch | undefined;
  if (parent !== '.') {
    const parts = parent.split('/');
    for (let i = 1; i <= parts.length; i++) state = matcher.matchWithParent(parts.slice(0, i).join('/'), state);
  }
  return matcher.matchWithParent(text, state).matched;
}

/** The package-level MatchesOrParentMatches(file, patterns): errors from New() or matching count as errors. */
function packageLevelMatch(patterns: string[], text: string): { match: boolean; error: boolean } {
  try {
    return { match: new PatternMatcher(patterns).isIgnored(text), error: false };
  } catch (err) {
    if (err instanceof GantryError) return { match: false, error: true };
    throw err;
  }
}

test('conformance table has the expected number of rows', () => {
  assert.equal(table.matches.length, table.counts.matches);
  assert.equal(table.multiPatternMatches.length, table.counts.multiPatternMatches);
  assert.equal(table.matchTests.length, table.counts.matchTests);
  assert.equal(table.exclusionAndErrorTests.length, table.counts.exclusionAndErrorTests);
  assert.equal(table.newPatternTests.length, table.counts.newPatternTests);
  assert.equal(table.compileTests.length, table.counts.compileTests);
});

test('single-pattern matches (TestMatches) under every matching method', () => {
  for (const row of table.matches) {
    const matcher = new PatternMatcher([row.pattern]);
    const where = `pattern ${JSON.stringify(row.pattern)} text ${JSON.stringify(row.text)} (Go line ${row.goLine})`;
    assert.equal(matcher.matches(row.text), row.pass, `MatchesOrParentMatches: ${where}`);
    assert.equal(matchByWalking(matcher, row.text), row.pass, `MatchesUsingParentResults: ${where}`);
    assert.equal(matcher.matchWithParent(row.text, undefined).matched, row.pass, `MatchesUsingParentResults without context: ${where}`);
  }
});

test('multi-pattern matches with exceptions in order', () => {
  for (const row of table.multiPatternMatches) {
    const matcher = new PatternMatcher(row.patterns);
    const where = `patterns ${JSON.stringify(row.patterns)} text ${JSON.stringify(row.text)} (Go line ${row.goLine})`;
    assert.equal(matcher.matches(row.text), row.pass, where);
    assert.equal(matchByWalking(matcher, row.text), row.pass, where);
    assert.equal(matcher.matchWithParent(row.text, undefined).matched, row.pass, where);
  }
});

test("Go's filepath.Match table, through the pattern matcher and through Glob", () => {
  for (const row of table.matchTests) {
    const where = `pattern ${JSON.stringify(row.pattern)} s ${JSON.stringify(row.s)} (Go line ${row.goLine})`;
    const expectError = row.err === 'ErrBadPattern';
    assert.deepEqual(packageLevelMatch([row.pattern], row.s), { match: row.match, error: expectError }, where);
    if (expectError) {
      assert.throws(() => new Glob(row.pattern), GlobSyntaxError, where);
    } else {
      // The pattern matcher also accepts a match on a parent ("a*" matches "ab/c"); Glob does not.
      const globExpected = row.match && !(row.pattern === 'a*' && row.s === 'ab/c');
      assert.equal(new Glob(row.pattern).matches(row.s), globExpected, where);
    }
  }
});

test('exclusion and error cases', () => {
  for (const row of table.exclusionAndErrorTests) {
    assert.deepEqual(packageLevelMatch(row.patterns, row.text), row.matchesOrParentMatchesResult, `${row.test} (Go line ${row.goLine})`);
  }
});

test('pattern list cleaning: trimming, empty patterns, exceptions, bare "!"', () => {
  for (const row of table.newPatternTests) {
    if (row.expectError) {
      assert.throws(
        () => new PatternMatcher(row.patterns),
        (err: unknown) => err instanceof GantryError && (row.derivedError === undefined || err.message.includes(row.derivedError)),
        row.test,
      );
      continue;
    }
    const matcher = new PatternMatcher(row.patterns);
    if (row.expectPatternCount !== undefined) assert.equal(matcher.patterns.length, row.expectPatternCount, row.test);
    if (row.expectExclusions !== undefined) assert.equal(matcher.hasExceptions, row.expectExclusions, row.test);
    if (row.derivedCleanedPatterns) {
      assert.deepEqual(
        matcher.patterns.map((p) => (p.exception ? `!${p.text}` : p.text)),
        row.derivedCleanedPatterns,
        row.test,
      );
    }
    if (row.then) {
      // A pattern that validates but cannot compile keeps failing on every call (moby/moby#52203).
      const text = row.then.text;
      assert.throws(() => matcher.matches(text), GantryError, row.test);
      assert.throws(() => matcher.matches(text), GantryError, row.test);
    }
  }
});

test("patterns compile to Docker's match types and equivalent regular expressions", () => {
  const samples = ['file', 'dir/file', 'a/b', 'abc/b', 'dir/dir2/file', 'x/dir2/y/z', 'file.txt', 'dir/filetxt', 'dir/dir/file.txt',
    'abe', 'ace', '.foo', 'foo', 'abc.def', 'abcZdef', 'abcdef', 'dir', 'a\nb/c', 'dir2/x', 'a/dir2/b/c'];
  for (const row of table.compileTests) {
    const [pattern] = new PatternMatcher([row.pattern]).patterns;
    assert.ok(pattern);
    const expectedType = row.matchType.replace('Match', '');
    assert.equal(pattern.matchType, expectedType, `${row.pattern} (Go line ${row.goLine})`);
    if (row.compiledRegexp !== null) {
      const goRegexp = new RegExp(row.compiledRegexp.replace(/\.\*/g, '[^\\n]*'), 'u');
      for (const sample of samples) {
        assert.equal(pattern.matchesExactly(sample), goRegexp.test(sample), `${row.pattern} on ${JSON.stringify(sample)}`);
      }
    }
  }
});

test('a leading "**" is a suffix match, so "**file" matches inside names', () => {
  const matcher = new PatternMatcher(['**file']);
  assert.equal(matcher.matches('dir/myfile'), true);
  assert.equal(matcher.matches('dir/file.txt'), false);
});

test('character classes may match a slash, as in Docker', () => {
  assert.equal(new PatternMatcher(['a[^x]b']).matches('a/b'), true);
  assert.equal(new Glob('a[^x]b').matches('a/b'), true);
  assert.equal(new Glob('a[^x]b').maxSegments(), 2);
  assert.equal(new Glob('*/b?').maxSegments(), 2);
});

test('a star inside brackets is a class member, not a wildcard', () => {
  const matcher = new PatternMatcher(['[*]x']);
  assert.equal(matcher.matches('*x'), true);
  assert.equal(matcher.matches('ax'), false);
});

test('the deciding pattern is the last one that changed the result', () => {
  const matcher = new PatternMatcher(['docs', '!docs/README.md', '*.tmp']);
  assert.equal(matcher.decidingPattern('docs/guide.md')?.text, 'docs');
  assert.equal(matcher.decidingPattern('docs/README.md')?.exception, true);
  assert.equal(matcher.decidingPattern('a.tmp')?.sourceIndex, 2);
  // "*.tmp" names top-level files only, as in Docker.
  assert.equal(matcher.decidingPattern('src/a.tmp'), undefined);
  assert.equal(matcher.decidingPattern('src/a.ts'), undefined);
});

test('walk pruning: which directories may hold exceptions or inclusions', () => {
  const literal = new PatternMatcher(['docs', '!docs/api/*', 'build']);
  assert.equal(literal.exceptionsMayMatchInside('docs'), true);
  assert.equal(literal.exceptionsMayMatchInside('docs/api'), true);
  assert.equal(literal.exceptionsMayMatchInside('build'), false);
  assert.equal(new PatternMatcher(['build']).exceptionsMayMatchInside('build'), false);
  assert.equal(new PatternMatcher(['*', '!**/*.go']).exceptionsMayMatchInside('anything'), true);
  const includes = new PatternMatcher(['src/app/main.go']);
  assert.equal(includes.inclusionsMayMatchInside('src'), true);
  assert.equal(includes.inclusionsMayMatchInside('test'), false);
  assert.equal(new PatternMatcher(['**/*.go']).inclusionsMayMatchInside('test'), true);
});

test('pattern errors name the origin and carry the location', () => {
  const matcher = () =>
    new PatternMatcher(['ok', 'bad['], {
      origin: '.dockerignore',
      locate: (index) => ({ file: '.dockerignore', line: index + 1, column: 1 }),
    });
  assert.throws(matcher, (err: unknown) => {
    assert.ok(err instanceof GantryError);
    assert.match(err.message, /^\.dockerignore: invalid pattern "bad\["/);
    assert.equal(err.location?.line, 2);
    return true;
  });
});
