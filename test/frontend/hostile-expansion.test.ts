/** Word expansion under hostile input: any nesting depth, a bounded result size, patterns that cannot backtrack. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnvList, MAX_WORD_LENGTH, ShellLexer, ShellSyntaxError, WordTooLongError } from '../../src/frontend/index.js';

const lexer = new ShellLexer();

test('${...} nested 100,000 deep expands without exhausting the stack', () => {
  const depth = 100_000;
  assert.equal(lexer.processWord(`${'${A:-'.repeat(depth)}x${'}'.repeat(depth)}`, new EnvList()), 'x');
  assert.equal(lexer.processWord(`${'${A:+'.repeat(depth)}x${'}'.repeat(depth)}`, new EnvList([['A', '1']])), 'x');
  // Double quotes inside each level, and pattern words.
  assert.equal(lexer.processWord(`"${'${A:-"'.repeat(depth)}x${'"}'.repeat(depth)}"`, new EnvList()), 'x');
  // ${A/x/y} is y; one level out, ${A/y/y} leaves A's x: the levels alternate.
  assert.equal(lexer.processWord(`${'${A/'.repeat(depth + 1)}x${'/y}'.repeat(depth + 1)}`, new EnvList([['A', 'x']])), 'y');
  assert.deepEqual(lexer.processWords(`a ${'${A:-'.repeat(depth)}b c${'}'.repeat(depth)}`, new EnvList()), ['a', 'b', 'c']);
});

test('an unterminated deep nesting is the outermost "missing }", as in BuildKit', () => {
  assert.throws(
    () => lexer.processWord(`${'${A:-"${B:-'.repeat(50_000)}x`, new EnvList()),
    (err: unknown) => err instanceof ShellSyntaxError && /: syntax error: missing '}'$/.test(err.message),
  );
});

test('a syntax error quotes a long word only in part', () => {
  const word = `\${A:-${'x'.repeat(100_000)}`;
  assert.throws(
    () => lexer.processWord(word, new EnvList()),
    (err: unknown) => err instanceof ShellSyntaxError && err.message.length < 300 && err.message.includes('…'),
  );
});

test('an expanded word longer than 1 MiB is a WordTooLongError with the limit and a hint', () => {
  const env = new EnvList([['A', 'a'.repeat(600_000)]]);
  assert.equal(lexer.processWord('$A', env).length, 600_000);
  assert.throws(
    () => lexer.processWord('$A$A', env),
    (err: unknown) =>
      err instanceof WordTooLongError &&
      err.message.includes(`longer than ${MAX_WORD_LENGTH} characters (1 MiB)`) &&
      /128 KiB/.test(err.hint ?? ''),
  );
  // Growth through replacement is caught before the result is built.
  assert.throws(() => lexer.processWord(`\${A//a/${'b'.repeat(10)}}`, env), WordTooLongError);
  assert.throws(() => lexer.processWord('${A//a*/bb}${A//?/cc}', env), WordTooLongError);
});

test('a word written longer than 1 MiB (a heredoc body) may grow by 1 MiB more', () => {
  const body = `${'line of text\n'.repeat(100_000)}$A\n`;
  const raw = new ShellLexer({ skipProcessQuotes: true });
  assert.equal(raw.processWord(body, new EnvList([['A', 'value']])), `${'line of text\n'.repeat(100_000)}value\n`);
  assert.throws(
    () => raw.processWord(`${body}$A`, new EnvList([['A', 'a'.repeat(600_000)]])),
    (err: unknown) => err instanceof WordTooLongError && err.message.includes(`longer than ${body.length + 2 + MAX_WORD_LENGTH} characters (its length as written plus 1 MiB)`),
  );
});

test('patterns with many stars match in linear time (a backtracking RegExp never finished)', () => {
  const env = new EnvList([['A', 'a'.repeat(5_000)]]);
  const started = Date.now();
  assert.equal(lexer.processWord('${A##*a*a*a*a*a*a*a*a*a*b}', env), 'a'.repeat(5_000));
  assert.equal(lexer.processWord('${A%%a*a*a*a*a*a*a*a*a*b}', env), 'a'.repeat(5_000));
  assert.equal(lexer.processWord('${A/a*a*a*a*a*a*a*a*b/x}', env), 'a'.repeat(5_000));
  assert.equal(lexer.processWord('${A#*a*a}', env), 'a'.repeat(4_998));
  assert.equal(lexer.processWord('${A##*a*a}', env), '');
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
});

test('shell patterns keep their semantics: shortest and longest prefix and suffix, replacement of the leftmost longest match', () => {
  const env = new EnvList([['V', 'foo/bar/baz.tar.gz'], ['X', 'xxa\nxa']]);
  const cases: Array<[string, string]> = [
    ['${V#*/}', 'bar/baz.tar.gz'],
    ['${V##*/}', 'baz.tar.gz'],
    ['${V%.*}', 'foo/bar/baz.tar'],
    ['${V%%.*}', 'foo/bar/baz'],
    ['${V/?a/_}', 'foo/_r/baz.tar.gz'],
    ['${V//?a/_}', 'foo/_r/_z._r.gz'],
    ['${V/o*/0}', 'f0'],
    // Stars do not cross a newline, as Go's `.` does not.
    ['${X//x*/Y}', 'Y\nY'],
    ['${X#*a}', '\nxa'],
  ];
  for (const [word, expected] of cases) assert.equal(lexer.processWord(word, env), expected, word);
});
