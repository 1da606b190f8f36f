import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnvList, ShellLexer, ShellSyntaxError } from '../../src/frontend/index.js';

const env = new EnvList([
  ['V', 'foo/bar/baz.tar.gz'],
  ['EMPTY', ''],
  ['P', 'a*b'],
]);
const lexer = new ShellLexer();

function expand(word: string): string {
  return lexer.processWord(word, env);
}

test('default, alternative and error operators distinguish unset from empty', () => {
  assert.equal(expand('${UNSET-w}'), 'w');
  assert.equal(expand('${EMPTY-w}'), '');
  assert.equal(expand('${EMPTY:-w}'), 'w');
  assert.equal(expand('${UNSET+w}'), '');
  assert.equal(expand('${EMPTY+w}'), 'w');
  assert.equal(expand('${EMPTY:+w}'), '');
  assert.equal(expand('${V:+w}'), 'w');
  assert.equal(expand('${EMPTY?}'), '');
  assert.throws(() => expand('${UNSET?}'), /UNSET: is not allowed to be unset/);
  assert.throws(() => expand('${EMPTY:?}'), /EMPTY: is not allowed to be empty/);
  assert.throws(() => expand('${UNSET:?set it please}'), /UNSET: set it please/);
});

test('prefix and suffix removal take the shortest or, doubled, the longest match', () => {
  assert.equal(expand('${V#*/}'), 'bar/baz.tar.gz');
  assert.equal(expand('${V##*/}'), 'baz.tar.gz');
  assert.equal(expand('${V%.*}'), 'foo/bar/baz.tar');
  assert.equal(expand('${V%%.*}'), 'foo/bar/baz');
  assert.equal(expand('${V%/*}'), 'foo/bar');
  assert.equal(expand('${P#a\\*}'), 'b', 'an escaped * is literal');
  assert.equal(expand('${UNSET#x}'), '');
  assert.throws(() => expand('${V:#x}'), /unsupported modifier \(:#\)/);
});

test('replacement replaces the first or, doubled, every match', () => {
  assert.equal(expand('${V/bar/X}'), 'foo/X/baz.tar.gz');
  assert.equal(expand('${V//a/_}'), 'foo/b_r/b_z.t_r.gz');
  assert.equal(expand('${V/?/X}'), 'Xoo/bar/baz.tar.gz');
  assert.equal(expand('${V/nothing/X}'), 'foo/bar/baz.tar.gz');
  assert.equal(expand('${V/o/$}'), 'f$o/bar/baz.tar.gz', 'a lone $ in the replacement stays');
});

test('quotes and escapes: single quotes are literal, double quotes expand', () => {
  assert.equal(expand(`'$V'`), '$V');
  assert.equal(expand(`"$EMPTY-x"`), '-x');
  assert.equal(expand('\\$V'), '$V');
  assert.equal(expand('"a\\"b"'), 'a"b');
  assert.throws(() => expand('"open'), ShellSyntaxError);
});

test('the backtick escape token replaces backslash', () => {
  const backtick = new ShellLexer({ escapeToken: '`' });
  assert.equal(backtick.processWord('a`$V\\b', env), 'a$V\\b');
});

test('skipUnsetEnv keeps references to unset variables as written', () => {
  const keeping = new ShellLexer({ skipUnsetEnv: true });
  assert.equal(keeping.processWord('$UNSET ${UNSET} ${UNSET:-x} $V', env), '$UNSET ${UNSET} ${UNSET:-x} foo/bar/baz.tar.gz');
});

test('rawQuotes keeps quote characters; words still group by quotes', () => {
  const raw = new ShellLexer({ rawQuotes: true });
  assert.equal(raw.processWord(`"a b" 'c'`, env), `"a b" 'c'`);
  assert.deepEqual(raw.processWords(`"a b" c`, env), ['"a b"', 'c']);
});

test('expand reports which variables were found and which were not', () => {
  const result = lexer.expand('$V ${UNSET} ${EMPTY:-$OTHER}', env);
  assert.deepEqual([...result.matched].sort(), ['EMPTY', 'V']);
  assert.deepEqual([...result.unmatched].sort(), ['OTHER', 'UNSET']);
});

test('syntax errors name the word, as BuildKit does', () => {
  assert.throws(
    () => expand('he${}'),
    (err: unknown) => err instanceof ShellSyntaxError && err.message === 'failed to process "he${}": syntax error: bad substitution',
  );
});

test('EnvList orders variables by when they were last set', () => {
  const list = EnvList.fromStrings(['A=1', 'B=2=3', 'C']);
  assert.deepEqual(list.keys(), ['A', 'B', 'C']);
  list.set('A', 'x');
  assert.deepEqual(list.toStrings(), ['B=2=3', 'C=', 'A=x']);
});
