/**
 * Hostile Dockerfiles through the parser and planner: deep nesting builds, runaway expansion and
 * oversized input stop with located errors, long lines are quoted as a window, odd bytes never cause
 * an internal error, and nothing is quadratic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkDockerfile,
  DockerfileError,
  dumpDockerfileAst,
  MAX_DOCKERFILE_BYTES,
  MAX_INSTRUCTIONS,
  parseDockerfile,
  planBuild,
  type BuildPlan,
  type PlannedStep,
} from '../../src/frontend/index.js';
import { formatGantryError, GantryError, QUOTED_LINE_WIDTH } from '../../src/util/errors.js';
import { runGantry } from '../../attack/lib.js';
import { tempDir } from '../helpers/gantry.js';
import { planOptions } from './fixtures.js';

function steps(plan: BuildPlan): PlannedStep[] {
  return plan.stages.find((s) => s.index === plan.target)!.steps;
}

async function planError(text: string): Promise<DockerfileError> {
  try {
    await planBuild(text, planOptions());
  } catch (err) {
    assert.ok(err instanceof DockerfileError, String(err));
    return err;
  }
  assert.fail('the plan succeeded');
}

test('deep ${ nesting in ARG, ENV, FROM, COPY and USER plans and expands (3,000 levels overflowed the stack)', async () => {
  const deep = (inner: string, depth = 3_000) => `${'${A:-'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
  const plan = await planBuild(
    [`FROM ${deep('scratch')}`, `ARG X=${deep('x')}`, `ENV Y=${deep('y')}`, `COPY ${deep('src')} /dst`, `USER ${deep('nobody')}`].join('\n'),
    planOptions(),
  );
  const history = steps(plan).map((s) => s.history?.createdBy);
  assert.deepEqual(history, ['ARG X=x', 'ENV Y=y', 'COPY src /dst # buildkit', 'USER nobody']);
});

test('nesting deeper than a line holds is written over continuations and still expands', async () => {
  const depth = 60_000;
  const opening = Array.from({ length: depth / 10_000 }, () => '${A:-'.repeat(10_000)).join('\\\n');
  const closing = Array.from({ length: depth / 10_000 }, () => '}'.repeat(10_000)).join('\\\n');
  const plan = await planBuild(`FROM scratch\nARG X=${opening}\\\nx\\\n${closing}\n`, planOptions());
  assert.equal(steps(plan)[0]!.history?.createdBy, 'ARG X=x');
});

test('JSON-form brackets nested past Go\'s decoder limit are shell form, as in BuildKit; shallower ones are an error', async () => {
  const deep = parseDockerfile(`FROM a\nRUN ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`, 'Dockerfile');
  assert.equal(deep.instructions[1]!.json, false);
  assert.equal(deep.instructions[1]!.args.length, 1);
  assert.throws(() => parseDockerfile('FROM a\nRUN [[["x"]]]\n', 'Dockerfile'), /arrays must be comprised of strings only/);
});

test('a long run of continuation lines parses in linear time', () => {
  const started = Date.now();
  const parsed = parseDockerfile(`FROM a\nRUN a${' \\\n'.repeat(500_000)}b\n`, 'Dockerfile');
  assert.equal(parsed.instructions[1]!.endLine, 500_002);
  assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
});

test('an ONBUILD chain is refused at its third level without building a node per level', () => {
  assert.equal(dumpDockerfileAst('FROM a\nONBUILD ONBUILD RUN x\n', 'Dockerfile'), '(from "a")\n(onbuild (onbuild (run "x")))\n');
  const started = Date.now();
  assert.throws(
    () => parseDockerfile(`FROM a\n${'ONBUILD '.repeat(8_000)}RUN x\n`, 'Dockerfile'),
    (err: unknown) => err instanceof GantryError && /Chaining ONBUILD/.test(err.message) && err.location?.line === 2,
  );
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
});

test('an ARG chain that doubles its value stops at the 1 MiB word limit, located at the instruction', async () => {
  const lines = ['FROM scratch', 'ARG A0=x'];
  for (let i = 1; i <= 40; i++) lines.push(`ARG A${i}=\${A${i - 1}}\${A${i - 1}}`);
  const err = await planError(lines.join('\n'));
  // A20 is 2^20 characters, exactly the limit; A21 passes it.
  assert.equal(err.location?.line, 23);
  assert.equal(err.location?.column, 1);
  assert.equal(err.location?.lineText, 'ARG A21=${A20}${A20}');
  assert.match(err.message, /^ARG: failed to process "\$\{A20\}\$\{A20\}": the expanded word is longer than 1048576 characters \(1 MiB\)/);
  assert.match(err.hint ?? '', /128 KiB/);
  assert.match(formatGantryError(err), /^Dockerfile:23:1: ARG: .*\n {2}23 \| ARG A21=\$\{A20\}\$\{A20\}\n {5}\| \^\^\^\nhint: /);
});

test('large variables times many steps stop at the plan size limit instead of exhausting memory', async () => {
  const lines = ['FROM scratch', `ARG A0=${'x'.repeat(1_000)}`, `ARG A1=${'${A0}'.repeat(1_000)}`];
  for (let i = 0; i < 40; i++) lines.push(`ARG B${i}=\${A1}`);
  lines.push(...Array.from({ length: 100 }, () => 'RUN true'));
  const err = await planError(lines.join('\n'));
  assert.match(err.message, /the build plan grows past its limit of 67108864 characters \(64 MiB\)/);
  assert.equal(err.location?.lineText, 'RUN true');
  assert.ok(err.hint);
});

test('thousands of config instructions plan in linear memory: unchanged config parts are shared between steps', async () => {
  const started = Date.now();
  const lines = ['FROM scratch', ...Array.from({ length: 600 }, (_, i) => `EXPOSE ${i + 1}`), ...Array.from({ length: 5_000 }, () => 'RUN true')];
  const plan = await planBuild(lines.join('\n'), planOptions());
  const planned = steps(plan);
  assert.equal(Object.keys(planned.at(-1)!.config.ExposedPorts ?? {}).length, 600);
  assert.equal(planned.at(-1)!.config.ExposedPorts, planned.at(-2)!.config.ExposedPorts, 'RUN steps share the ports snapshot');
  assert.ok(Object.isFrozen(planned.at(-1)!.config.ExposedPorts));
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
});

test('a Dockerfile over the size limit is refused with its size and the limit', () => {
  const text = `FROM scratch\n${'# comment\n'.repeat(MAX_DOCKERFILE_BYTES / 10)}`;
  assert.throws(
    () => parseDockerfile(text, 'ci/Dockerfile'),
    (err: unknown) =>
      err instanceof GantryError &&
      err.message === `the Dockerfile is ${Buffer.byteLength(text)} bytes, more than the limit of ${MAX_DOCKERFILE_BYTES} bytes (3 MiB)` &&
      err.location?.file === 'ci/Dockerfile' &&
      err.location.line === 1 &&
      Boolean(err.hint),
  );
});

test('the command line refuses an oversized Dockerfile before reading it, and stops reading standard input past the limit', async () => {
  const dir = await tempDir('oversized');
  try {
    const file = join(dir.path, 'Dockerfile.big');
    // 32 MB that are never written out: only the size says no.
    const handle = await open(file, 'w');
    await handle.truncate(32 * 1024 * 1024);
    await handle.close();
    const fromFile = await runGantry(join(dir.path, 'root'), ['build', '--check', '-f', file, dir.path]);
    assert.equal(fromFile.code, 1);
    assert.match(fromFile.stderr, /^error: .*Dockerfile\.big:1:1: the Dockerfile is 33554432 bytes, more than the limit of 3145728 bytes \(3 MiB\)\nhint: /);
    const fromStdin = await runGantry(join(dir.path, 'root'), ['build', '--check', '-f', '-', dir.path], { input: `FROM scratch\n${'#'.repeat(5 * 1024 * 1024)}\n` });
    assert.equal(fromStdin.code, 1);
    assert.match(fromStdin.stderr, /^error: Dockerfile:1:1: the Dockerfile is larger than the limit of 3145728 bytes \(3 MiB\)\n/);
  } finally {
    await dir.cleanup();
  }
});

test('a Dockerfile of more than 10,000 instructions is refused at the first one past the limit', () => {
  const text = `FROM scratch\n${'RUN true\n'.repeat(MAX_INSTRUCTIONS)}`;
  assert.throws(
    () => parseDockerfile(text, 'Dockerfile'),
    (err: unknown) => err instanceof GantryError && err.message === 'the Dockerfile has more than 10000 instructions' && err.location?.line === MAX_INSTRUCTIONS + 1,
  );
});

test('an error on a 1 MB line quotes a window around the column, with … markers, the caret under the offending text', () => {
  assert.throws(
    () => parseDockerfile(`FROM scratch\nRUN ${'x'.repeat(1_000_000)}\n`, 'Dockerfile'),
    (err: unknown) => {
      assert.ok(err instanceof GantryError);
      const [first, quoted, caret] = formatGantryError(err).split('\n');
      assert.equal(first, 'Dockerfile:2:1: dockerfile line greater than max allowed size of 65535');
      assert.ok(quoted!.length < QUOTED_LINE_WIDTH + 20, `quoted line of ${quoted!.length}`);
      assert.ok(quoted!.startsWith('  2 | RUN xxx') && quoted!.endsWith('…'));
      assert.equal(caret, '    | ^');
      return true;
    },
  );
  const err = new GantryError('bad', { location: { file: 'Dockerfile', line: 7, column: 500_001, lineText: `${'a'.repeat(500_000)}BAD${'z'.repeat(500_000)}`, length: 3 } });
  const [, quoted, caret] = formatGantryError(err).split('\n');
  assert.ok(quoted!.length <= QUOTED_LINE_WIDTH + 10 && quoted!.startsWith('  7 | …a') && quoted!.endsWith('z…'), quoted);
  assert.equal(quoted!.indexOf('BAD'), caret!.indexOf('^^^'), 'the caret is under the offending text');
});

test('the quoted line and the message cannot drive the terminal: control characters are shown as U+FFFD', () => {
  const err = new GantryError('unknown instruction: \u001b[2J', { location: { file: 'Dockerfile', line: 1, column: 1, lineText: '\u001b[2J\u0000x' }, hint: 'h' });
  const formatted = formatGantryError(err);
  assert.ok(!/[\u0000-\u0008\u000b-\u001f]/.test(formatted), JSON.stringify(formatted));
  assert.match(formatted, /\ufffd\[2J\ufffdx/);
});

test('a BOM, CRLF, NULs, invalid UTF-8 and truncation never cause an internal error', async () => {
  const base = Buffer.from('# syntax=docker/dockerfile:1\nFROM scratch AS base\nARG A=1\nENV B="${A:-x}" C=2\nCOPY <<EOF /f\n$A\nEOF\nRUN ["echo", "hi"]\n');
  const variants = [
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), base]),
    Buffer.from(base.toString('latin1').replace(/\n/g, '\r\n'), 'latin1'),
    Buffer.concat([base.subarray(0, 40), Buffer.alloc(3), base.subarray(40)]),
    Buffer.concat([base.subarray(0, 50), Buffer.from([0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80]), base.subarray(50)]),
    ...Array.from({ length: base.length }, (_, i) => base.subarray(0, i)),
  ];
  for (const bytes of variants) {
    const text = bytes.toString('utf8');
    try {
      await planBuild(text, planOptions());
    } catch (err) {
      assert.ok(err instanceof GantryError && err.location, `${JSON.stringify(text)}: ${String(err)}`);
    }
    const checked = await checkDockerfile(text, planOptions());
    if (checked.error) assert.ok(checked.error.location, checked.error.message);
  }
  const bom = await planBuild(variants[0]!.toString('utf8'), planOptions());
  const crlf = await planBuild(variants[1]!.toString('utf8'), planOptions());
  assert.deepEqual(steps(crlf).map((s) => s.history?.createdBy), steps(bom).map((s) => s.history?.createdBy), 'a BOM is dropped and CRLF read as LF');
});

test('runs of carriage returns and spaces do not make the line and directive readers quadratic', () => {
  const started = Date.now();
  const parsed = parseDockerfile(`# syntax=x${' '.repeat(60_000)}y\n${'\r'.repeat(60_000)}\nFROM a\n${`#${' '.repeat(60_000)}x\n`.repeat(20)}RUN x\n`, 'Dockerfile');
  assert.equal(parsed.directives[0]?.value, `x${' '.repeat(60_000)}y`);
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
});

test('a suggestion for a megabyte-long unknown instruction costs its length, not its length times the options', async () => {
  const keyword = 'A'.repeat(60_000);
  const started = Date.now();
  const err = await planError(`FROM scratch\n${Array.from({ length: 40 }, () => keyword).join('\\\n')}\n`);
  assert.ok(err.message.startsWith('unknown instruction: AAAA'));
  assert.ok(formatGantryError(err).length < 10_000, 'the printed error is bounded');
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
});

test('a megabyte heredoc with variables plans', async () => {
  const body = '$A ${A:-x} "q" \\ \n'.repeat(50_000);
  const plan = await planBuild(`FROM scratch\nARG A=1\nCOPY <<EOF /big\n${body}EOF\n`, planOptions());
  const copy = steps(plan).find((s) => s.kind === 'copy');
  assert.ok(copy?.kind === 'copy');
  // Quotes are literal in a heredoc body; the escape character is removed, as in any expanded word.
  assert.equal(copy.inlineSources[0]!.content, '1 1 "q"  \n'.repeat(50_000));
});

test('the command line reads a Dockerfile with a BOM, CRLF line endings and a NUL', async () => {
  const dir = await tempDir('odd-bytes');
  try {
    const file = join(dir.path, 'Dockerfile');
    await writeFile(file, Buffer.from('\ufeffFROM scratch\r\nCOPY \u0000 /x\r\n'));
    const result = await runGantry(join(dir.path, 'root'), ['build', '--check', '-f', file, dir.path]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Check complete/);
  } finally {
    await dir.cleanup();
  }
});
