import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpDockerfileAst, parseDockerfile } from '../../src/frontend/index.js';
import { GantryError } from '../../src/util/errors.js';

function located(line: number, message: RegExp, column?: number) {
  return (err: unknown) => {
    assert.ok(err instanceof GantryError, String(err));
    assert.match(err.message, message);
    assert.equal(err.location?.file, 'Dockerfile');
    assert.equal(err.location?.line, line);
    if (column !== undefined) assert.equal(err.location?.column, column);
    assert.equal(typeof err.location?.lineText, 'string');
    return true;
  };
}

test('a UTF-8 BOM and CRLF line endings are accepted', () => {
  assert.equal(dumpDockerfileAst('\ufeffFROM a\r\nRUN x \\\r\n  y\r\n', 'Dockerfile'), '(from "a")\n(run "x   y")\n');
});

test('comment and blank lines inside a continuation are dropped; blank ones are recorded', () => {
  const parsed = parseDockerfile('FROM a\nRUN one \\\n# comment\n\n  two\nRUN three\n', 'Dockerfile');
  assert.equal(parsed.instructions[1]!.args[0], 'one   two');
  assert.deepEqual(parsed.emptyContinuationLines, [5]);
  assert.equal(parsed.instructions[1]!.startLine, 2);
  assert.equal(parsed.instructions[1]!.endLine, 5);
});

test('parser directives: syntax, escape and check, only before anything else', () => {
  const parsed = parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM a\nRUN dir c:\\ `\n  x\n', 'Dockerfile');
  assert.deepEqual(
    parsed.directives.map((d) => [d.name, d.value, d.line]),
    [['syntax', 'docker/dockerfile:1', 1], ['escape', '`', 2], ['check', 'skip=all', 3]],
  );
  assert.equal(parsed.escapeToken, '`');
  assert.equal(parsed.instructions[1]!.args[0], 'dir c:\\   x');
  const late = parseDockerfile('FROM a\n# escape=`\nRUN x \\\n y\n', 'Dockerfile');
  assert.equal(late.escapeToken, '\\', 'a directive after an instruction is a comment');
  assert.deepEqual(late.directives, []);
});

test('directive errors are located: bad escape token, repeated directive', () => {
  assert.throws(() => parseDockerfile('# escape=x\nFROM a\n', 'Dockerfile'), located(1, /invalid escape token 'x'/));
  assert.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM a\n', 'Dockerfile'), located(2, /only one escape parser directive/));
});

test('comments just above an instruction are attached to it; an empty comment line resets them', () => {
  const parsed = parseDockerfile('# one\n#\n# two\n# three\nFROM a\n', 'Dockerfile');
  assert.deepEqual(parsed.instructions[0]!.comments, ['two', 'three']);
});

test('heredocs: several on one line, <<- strips tabs, quoted delimiters disable expansion, file descriptors', () => {
  const text = 'FROM a\nCOPY <<EOF <<-EOT /dest/\nhello\nEOF\n\tworld\n\tEOT\nRUN <<"EOF" cat\n$HOME\nEOF\nRUN 3<<EOF cat <&3\nfd\nEOF\n';
  const [, copy, quoted, fd] = parseDockerfile(text, 'Dockerfile').instructions;
  assert.deepEqual(
    copy!.heredocs.map((h) => [h.name, h.chomp, h.expand, h.content]),
    [['EOF', false, true, 'hello\n'], ['EOT', true, true, '\tworld\n']],
  );
  assert.equal(copy!.endLine, 6);
  assert.deepEqual(quoted!.heredocs.map((h) => [h.name, h.expand, h.content]), [['EOF', false, '$HOME\n']]);
  assert.deepEqual(fd!.heredocs.map((h) => [h.name, h.fileDescriptor]), [['EOF', 3]]);
});

test('heredocs are not read for JSON-form instructions or instructions that take none', () => {
  const parsed = parseDockerfile('FROM a\nRUN ["cat", "<<EOF"]\nLABEL a=<<EOF\n', 'Dockerfile');
  assert.deepEqual(parsed.instructions.map((n) => n.heredocs.length), [0, 0, 0]);
});

test('an unterminated heredoc is an error at its instruction', () => {
  assert.throws(() => parseDockerfile('FROM a\nRUN <<EOF\nno end\n', 'Dockerfile'), located(2, /unterminated heredoc/, 5));
});

test('JSON form falls back to shell form when the JSON is malformed, but not when it holds non-strings', () => {
  assert.equal(dumpDockerfileAst(`CMD ['single', 'quotes']\n`, 'Dockerfile'), `(cmd "['single', 'quotes']")\n`);
  assert.equal(dumpDockerfileAst('CMD [ "unterminated"\n', 'Dockerfile'), '(cmd "[ \\"unterminated\\"")\n');
  assert.throws(() => parseDockerfile('FROM a\nCMD ["a", 1]\n', 'Dockerfile'), located(2, /arrays must be comprised of strings only/));
});

test('ENV and LABEL: legacy "key value" form and key=value pairs', () => {
  assert.equal(dumpDockerfileAst('ENV A b c\nLABEL x=1 "y z"=2\n', 'Dockerfile'), '(env "A" "b c" "")\n(label "x" "1" "=" "\\"y z\\"" "2" "=")\n');
  assert.throws(() => parseDockerfile('FROM a\nENV PATH\n', 'Dockerfile'), located(2, /ENV must have two arguments/));
  assert.throws(() => parseDockerfile('FROM a\nLABEL a=b c\n', 'Dockerfile'), located(2, /can't find = in "c"/));
});

test('flags are read before the arguments; "--" ends them', () => {
  const parsed = parseDockerfile('FROM a\nCOPY --from="build stage" --link -- --not-a-flag /x\n', 'Dockerfile');
  assert.deepEqual(parsed.instructions[1]!.flags, ['--from=build stage', '--link']);
  assert.deepEqual(parsed.instructions[1]!.args, ['--not-a-flag', '/x']);
});

test('ONBUILD holds its trigger, heredocs included', () => {
  const parsed = parseDockerfile('FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n', 'Dockerfile');
  const onbuild = parsed.instructions[1]!;
  assert.equal(onbuild.trigger?.keyword, 'RUN');
  assert.equal(onbuild.heredocs[0]?.content, 'echo hi\n');
  assert.equal(dumpDockerfileAst('ONBUILD RUN echo hi\n', 'Dockerfile'), '(onbuild (run "echo hi"))\n');
});

test('a file without instructions is rejected', () => {
  assert.throws(() => parseDockerfile('# only a comment\n\n', 'Dockerfile'), located(2, /file with no instructions/));
});

test('lines longer than BuildKit accepts are rejected', () => {
  assert.throws(() => parseDockerfile(`FROM a\nLABEL x=${'a'.repeat(70000)}\n`, 'Dockerfile'), located(2, /greater than max allowed size of 65535/));
});

test('unknown instructions parse (the dump shows them) and are rejected when interpreted', () => {
  assert.equal(dumpDockerfileAst('FROM a\nCOPPY x y\n', 'Dockerfile'), '(from "a")\n(coppy "")\n');
});
