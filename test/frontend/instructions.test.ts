import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckRules, parseCheckConfig, parseDockerfile, parseInstructions, type InstructionOf } from '../../src/frontend/index.js';
import { Linter } from '../../src/frontend/checks.js';
import { emptyCheckConfig } from '../../src/frontend/directives.js';
import { GantryError } from '../../src/util/errors.js';

function define(text: string) {
  const parsed = parseDockerfile(text, 'Dockerfile');
  return parseInstructions(parsed, Linter.create(emptyCheckConfig(), parsed.source));
}

function first(text: string, kind: string) {
  const instruction = define(`FROM scratch\n${text}\n`).stages[0]!.instructions[0]!;
  assert.equal(instruction.kind, kind);
  return instruction;
}

function rejects(text: string, message: RegExp, hint?: RegExp, column?: number) {
  assert.throws(
    () => define(text),
    (err: unknown) => {
      assert.ok(err instanceof GantryError, String(err));
      assert.match(err.message, message);
      assert.ok(err.location, 'located');
      if (hint) assert.match(err.hint ?? '', hint);
      if (column !== undefined) assert.equal(err.location.column, column);
      return true;
    },
  );
}

test('stages: names are lower-cased, validated, and ARGs before the first FROM are global', () => {
  const definition = define('ARG V=1\nFROM --platform=$BUILDPLATFORM alpine:$V AS Build\nRUN x\nFROM build\n');
  assert.deepEqual(definition.metaArgs.map((a) => a.args), [[{ key: 'V', value: '1' }]]);
  const [build, second] = definition.stages;
  assert.deepEqual([build!.name, build!.nameAsWritten, build!.baseName, build!.platform], ['build', 'Build', 'alpine:$V', '$BUILDPLATFORM']);
  assert.equal(second!.name, undefined);
  rejects('FROM alpine AS 1st\n', /invalid name for build stage: "1st"/, undefined, 16);
  rejects('FROM alpine AS\n', /FROM requires either one or three arguments/);
  rejects('RUN x\nFROM alpine\n', /no build stage in current context/, /only ARG instructions/);
});

test('flags: unknown, misplaced, duplicated, malformed', () => {
  rejects('FROM a\nCOPY --form=x a b\n', /unknown flag: --form/, /did you mean --from\?/, 6);
  rejects('FROM a\nWORKDIR --chown=1 /x\n', /unknown flag: --chown/, /--chown is a flag of COPY and ADD; WORKDIR takes no flags/);
  rejects('FROM a\nCOPY --link --link a b\n', /duplicate flag specified: --link/);
  rejects('FROM a\nCOPY --from a b\n', /missing a value on flag: --from/);
  rejects('FROM a\nADD --unpack=yes a b\n', /expecting boolean value for flag --unpack, not: yes/);
  rejects('FROM a\nRUN --device=gpu x\n', /device feature is only supported/);
  rejects('FROM a\nSTOPSIGNAL --x SIGTERM\n', /unknown flag: --x/);
  rejects('FROM --platfrom=linux/amd64 a\n', /unknown flag: --platfrom/, /did you mean --platform\?/);
});

test('COPY and ADD: every flag, sources and destination', () => {
  const copy = first('COPY --from=build --chown=1:2 --chmod=755 --link --exclude=*.md --exclude=*.txt --parents a b /dst/', 'copy') as InstructionOf<'copy'>;
  assert.deepEqual(
    [copy.from, copy.chown, copy.chmod, copy.link, copy.exclude, copy.parents, copy.sources, copy.dest],
    ['build', '1:2', '755', true, ['*.md', '*.txt'], true, ['a', 'b'], '/dst/'],
  );
  const add = first('ADD --checksum=sha256:x --keep-git-dir=false --unpack https://e.com/a /a', 'add') as InstructionOf<'add'>;
  assert.deepEqual([add.checksum, add.keepGitDir, add.unpack], ['sha256:x', false, true]);
  const json = first('COPY ["a b", "/c d"]', 'copy') as InstructionOf<'copy'>;
  assert.deepEqual([json.sources, json.dest], [['a b'], '/c d']);
  rejects('FROM a\nCOPY onlyone\n', /COPY requires at least two arguments/);
  rejects('FROM a\nCOPY a <<EOF\nx\nEOF\n', /COPY cannot accept a heredoc as a destination/);
});

test('RUN: shell and exec form, --mount kept for planning, --network and --security validated', () => {
  const shell = first('RUN --mount=type=cache,target=/c --network=host --security=insecure make all', 'run') as InstructionOf<'run'>;
  assert.deepEqual([shell.cmdLine, shell.prependShell, shell.mounts, shell.network, shell.security], [['make all'], true, ['type=cache,target=/c'], 'host', 'insecure']);
  const exec = first('RUN ["make", "all"]', 'run') as InstructionOf<'run'>;
  assert.deepEqual([exec.cmdLine, exec.prependShell], [['make', 'all'], false]);
  rejects('FROM a\nRUN --network=hots x\n', /invalid network mode "hots"/, undefined, 5);
  rejects('FROM a\nRUN --security=open x\n', /security "open" is not valid/);
  rejects('FROM a\nRUN --mount=type=bind,from=$STAGE x\n', /'from' doesn't support variable expansion/);
});

test('HEALTHCHECK: durations in nanoseconds, NONE, CMD-SHELL and exec form', () => {
  const health = first('HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --start-interval=1s --retries=3 CMD check', 'healthcheck') as InstructionOf<'healthcheck'>;
  assert.deepEqual(health.health, {
    Test: ['CMD-SHELL', 'check'],
    Interval: 90e9,
    Timeout: 500e6,
    StartPeriod: 2e9,
    StartInterval: 1e9,
    Retries: 3,
  });
  assert.deepEqual((first('HEALTHCHECK NONE', 'healthcheck') as InstructionOf<'healthcheck'>).health, { Test: ['NONE'] });
  assert.deepEqual((first('HEALTHCHECK CMD ["a", "b"]', 'healthcheck') as InstructionOf<'healthcheck'>).health.Test, ['CMD', 'a', 'b']);
  rejects('FROM a\nHEALTHCHECK --interval=1us CMD x\n', /Interval "interval" cannot be less than 1ms/);
  rejects('FROM a\nHEALTHCHECK --timeout=soon CMD x\n', /time: invalid duration "soon"/);
  rejects('FROM a\nHEALTHCHECK CONNECT x\n', /Unknown type "CONNECT" in HEALTHCHECK \(try CMD\)/);
  rejects('FROM a\nHEALTHCHECK NONE x\n', /HEALTHCHECK NONE takes no arguments/);
  rejects('FROM a\nHEALTHCHECK CMD\n', /Missing command after HEALTHCHECK CMD/);
});

test('ONBUILD keeps its trigger text; chaining, FROM and MAINTAINER triggers are refused', () => {
  const onbuild = first('ONBUILD RUN <<EOF\necho hi\nEOF', 'onbuild') as InstructionOf<'onbuild'>;
  assert.equal(onbuild.expression, 'RUN <<EOF\necho hi\nEOF');
  rejects('FROM a\nONBUILD ONBUILD RUN x\n', /Chaining ONBUILD/);
  rejects('FROM a\nONBUILD FROM b\n', /FROM isn't allowed as an ONBUILD trigger/);
  rejects('FROM a\nONBUILD MAINTAINER me\n', /MAINTAINER isn't allowed as an ONBUILD trigger/);
});

test('argument counts and forms', () => {
  rejects('FROM a\nWORKDIR\n', /WORKDIR requires exactly one argument/);
  rejects('FROM a\nEXPOSE\n', /EXPOSE requires at least one argument/);
  rejects('FROM a\nVOLUME []\n', /VOLUME requires at least one argument/);
  rejects('FROM a\nSHELL /bin/bash -c\n', /SHELL requires the arguments to be in JSON form/);
  rejects('FROM a\nARG =x\n', /ARG names can not be blank/);
  rejects('FROM a\nENV\n', /ENV requires at least one argument/);
  const expose = first('EXPOSE 8080 443 80', 'expose') as InstructionOf<'expose'>;
  assert.deepEqual(expose.ports, ['443', '80', '8080'], 'sorted as written, like BuildKit');
  const arg = first('ARG A B=2 C=', 'arg') as InstructionOf<'arg'>;
  assert.deepEqual(arg.args, [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '' }]);
});

test('check configuration syntax', () => {
  const config = parseCheckConfig('skip=A, B;error=true;experimental=all');
  assert.deepEqual([[...config.skip], config.error, config.experimentalAll], [['A', 'B'], true, true]);
  assert.throws(() => parseCheckConfig('skip'), /invalid check option "skip"/);
  assert.throws(() => parseCheckConfig('error=maybe'), /failed to parse check option "error=maybe"/);
  assert.throws(() => parseCheckConfig('nope=1'), /invalid check option "nope"/);
  assert.ok(Object.keys(CheckRules).length >= 21);
});
