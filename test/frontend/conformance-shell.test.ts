/** BuildKit's shell lexer tables: envVarTest (ProcessWord, unix and all-platform rows) and wordsTest (ProcessWords). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConformance } from '../helpers/conformance.js';
import { EnvList, ShellLexer, ShellSyntaxError } from '../../src/frontend/index.js';

interface EnvVarTable {
  envs: string[];
  cases: Array<{ line: number; platform: 'A' | 'U' | 'W'; input: string; expected: string }>;
}
interface WordsCase {
  line: number;
  env: string[];
  input: string;
  expected: string[];
}

const envTable = loadConformance<EnvVarTable>('buildkit/envVarTest.json');
const unixCases = envTable.cases.filter((c) => c.platform !== 'W');
const wordsCases = loadConformance<WordsCase[]>('buildkit/wordsTest.json');

test('shell tables: 228 unix/all word cases and 24 split cases', () => {
  assert.equal(unixCases.length, 228);
  assert.equal(wordsCases.length, 24);
});

test('envVarTest: every unix and all-platform case expands as BuildKit does', () => {
  const env = EnvList.fromStrings(envTable.envs);
  const lexer = new ShellLexer();
  for (const c of unixCases) {
    if (c.expected === 'error') {
      assert.throws(() => lexer.processWord(c.input, env), ShellSyntaxError, `line ${c.line}: ${c.input}`);
    } else {
      assert.equal(lexer.processWord(c.input, env), c.expected, `line ${c.line}: ${c.input}`);
    }
  }
});

test('wordsTest: every case splits into BuildKit\'s words', () => {
  const lexer = new ShellLexer();
  for (const c of wordsCases) {
    const env = EnvList.fromStrings(c.env);
    if (c.expected.length === 1 && c.expected[0] === 'error') {
      assert.throws(() => lexer.processWords(c.input, env), ShellSyntaxError, `line ${c.line}: ${c.input}`);
    } else {
      assert.deepEqual(lexer.processWords(c.input, env), c.expected, `line ${c.line}: ${c.input}`);
    }
  }
});
