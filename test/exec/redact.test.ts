import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redactionPatterns, Redactor } from '../../src/exec/redact.js';

/** Feeds `chunks` through a redactor and returns what it passed on, and where it cut. */
function run(secrets: string[], chunks: string[]): { text: string; pieces: string[] } {
  const redactor = new Redactor(redactionPatterns(secrets.map((s) => Buffer.from(s))));
  const pieces = chunks.map((chunk) => redactor.push(Buffer.from(chunk)).toString());
  pieces.push(redactor.flush().toString());
  return { text: pieces.join(''), pieces };
}

test('a secret is hidden wherever it appears, also split across chunks', () => {
  assert.equal(run(['s3cr3t-value'], ['token=s3cr3t-value; again s3cr3t-value\n']).text, 'token=****; again ****\n');
  const split = run(['s3cr3t-value'], ['before s3c', 'r3t-va', 'lue after\n']);
  assert.equal(split.text, 'before **** after\n');
  assert.ok(!split.pieces.some((piece) => piece.includes('s3c')), 'no part of the secret is passed on before it is known not to be one');
});

test('output that only looks like the start of a secret is passed on, at the latest when the stream ends', () => {
  const { text, pieces } = run(['s3cr3t-value'], ['ends with s3c', 'ond half\n', 'tail s3']);
  assert.equal(text, 'ends with s3cond half\ntail s3');
  assert.equal(pieces[0], 'ends with ', 'the possible beginning is held back');
  assert.deepEqual(pieces.slice(-2), ['tail ', 's3'], 'flush gives the rest');
});

test('a file secret is hidden without its final newline, and a multi-line one line by line', () => {
  assert.equal(run(['tok3n-from-file\n'], ['tok3n-from-file\n']).text, '****\n');
  const key = '-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n}\n-----END KEY-----\n';
  assert.equal(run([key], ['line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n', 'brace }\n']).text, 'line: ****\nbrace }\n');
  assert.equal(run([key], [key]).text, '****\n');
});

test('no secrets, or empty ones, leave the output as it is', () => {
  assert.equal(run([], ['plain ', 'output']).text, 'plain output');
  assert.equal(run(['', '  \n'], ['plain  \n']).text, 'plain  \n');
});
