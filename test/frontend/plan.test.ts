import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DockerfileError, planBuild, type BuildPlan, type CopyStep, type PlannedStep, type RunStep } from '../../src/frontend/index.js';
import { GantryError } from '../../src/util/errors.js';
import { amd64, arm64, BASE_PATH, fakeResolver, planOptions } from './fixtures.js';

function steps(plan: BuildPlan, stage = plan.target): PlannedStep[] {
  return plan.stages.find((s) => s.index === stage)!.steps;
}

function history(plan: BuildPlan, stage = plan.target): string[] {
  return steps(plan, stage).map((s) => (s.history ? `${s.history.createdBy}${s.history.emptyLayer ? ' (empty)' : ''}` : `${s.label} (no history)`));
}

function runs(plan: BuildPlan, stage = plan.target): RunStep[] {
  return steps(plan, stage).filter((s): s is RunStep => s.kind === 'run');
}

function copies(plan: BuildPlan, stage = plan.target): CopyStep[] {
  return steps(plan, stage).filter((s): s is CopyStep => s.kind === 'copy');
}

function lastConfig(plan: BuildPlan) {
  return steps(plan).at(-1)!.config;
}

test('history entries read exactly as BuildKit writes them', async () => {
  const plan = await planBuild(
    [
      'FROM scratch',
      'ARG VERSION=1',
      'ENV A=b C="d e"',
      'LABEL org.example=x',
      'WORKDIR /app',
      'COPY --chown=1000:1000 --chmod=0644 . /app',
      'RUN make',
      'EXPOSE 80 53/udp',
      'VOLUME /data',
      'USER nobody',
      'SHELL ["/bin/bash", "-c"]',
      'STOPSIGNAL SIGTERM',
      'HEALTHCHECK --interval=1m30s --retries=3 CMD curl -f http://localhost/',
      'MAINTAINER me',
      'ENTRYPOINT ["/app/run"]',
      'CMD ["sh"]',
      'ONBUILD RUN echo child',
    ].join('\n'),
    planOptions(),
  );
  assert.deepEqual(history(plan), [
    'ARG VERSION=1 (empty)',
    'ENV A=b C=d e (empty)',
    'LABEL org.example=x (empty)',
    'WORKDIR /app',
    'COPY --chown=1000:1000 --chmod=0644 . /app # buildkit',
    'RUN |1 VERSION=1 /bin/sh -c make # buildkit',
    'EXPOSE [53/udp 80/tcp] (empty)',
    'VOLUME [/data] (empty)',
    'USER nobody (empty)',
    'SHELL [/bin/bash -c] (empty)',
    'STOPSIGNAL SIGTERM (empty)',
    'HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:1m30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3} (empty)',
    'MAINTAINER me (empty)',
    'ENTRYPOINT ["/app/run"] (empty)',
    'CMD ["sh"] (empty)',
    'ONBUILD RUN echo child (no history)',
  ]);
  assert.ok(steps(plan).every((s) => s.history === undefined || s.history.comment === 'buildkit.dockerfile.v0'));
});

test('the image config after every step follows BuildKit', async () => {
  const plan = await planBuild(
    'FROM scratch\nENV A=1\nEXPOSE 80\nHEALTHCHECK --interval=30s --timeout=5s CMD ["check"]\nUSER app\nCMD run\nENTRYPOINT ["e"]\nONBUILD RUN x\n',
    planOptions(),
  );
  const configs = steps(plan).map((s) => s.config);
  assert.deepEqual(plan.stages[0]!.baseConfig, { Env: [`PATH=${BASE_PATH}`], WorkingDir: '/' });
  assert.deepEqual(configs[0], { Env: [`PATH=${BASE_PATH}`, 'A=1'], WorkingDir: '/' });
  assert.deepEqual(lastConfig(plan), {
    User: 'app',
    ExposedPorts: { '80/tcp': {} },
    Env: [`PATH=${BASE_PATH}`, 'A=1'],
    Entrypoint: ['e'],
    Cmd: ['/bin/sh', '-c', 'run'],
    WorkingDir: '/',
    ArgsEscaped: true,
    Healthcheck: { Test: ['CMD', 'check'], Interval: 30_000_000_000, Timeout: 5_000_000_000 },
    OnBuild: ['RUN x'],
  });
});

test('ENTRYPOINT drops a CMD inherited from the base image, not one set in the stage', async () => {
  const resolver = fakeResolver({ app: { config: { Cmd: ['serve'], Env: ['PATH=/bin'] } } });
  const inherited = await planBuild('FROM app\nENTRYPOINT ["e"]\n', planOptions({ resolveImage: resolver }));
  assert.equal(lastConfig(inherited).Cmd, undefined);
  const own = await planBuild('FROM app\nCMD ["c"]\nENTRYPOINT ["e"]\n', planOptions({ resolveImage: resolver }));
  assert.deepEqual(lastConfig(own).Cmd, ['c']);
});

test('ARG scope: global ARGs reach FROM only; ARG NAME in a stage takes the global value; build args win', async () => {
  const dockerfile = [
    'ARG TAG=3.20',
    'ARG GLOBAL=g',
    'FROM alpine:${TAG}',
    'RUN echo $GLOBAL',
    'ARG GLOBAL',
    'RUN echo $GLOBAL',
    'ARG LOCAL=l-$GLOBAL',
    'RUN echo $LOCAL',
  ].join('\n');
  const resolver = fakeResolver();
  const plan = await planBuild(dockerfile, planOptions({ buildArgs: { GLOBAL: 'cli' }, resolveImage: resolver }));
  assert.deepEqual(resolver.calls, ['docker.io/library/alpine:3.20 linux/amd64']);
  const [before, after, local] = runs(plan);
  assert.deepEqual(before!.buildArgs, []);
  assert.ok(!before!.env.some((e) => e.startsWith('GLOBAL=')));
  assert.deepEqual(after!.buildArgs, [['GLOBAL', 'cli']]);
  assert.ok(after!.env.includes('GLOBAL=cli'));
  assert.deepEqual(local!.buildArgs, [['GLOBAL', 'cli'], ['LOCAL', 'l-cli']]);
  assert.equal(local!.history?.createdBy, 'RUN |2 GLOBAL=cli LOCAL=l-cli /bin/sh -c echo $LOCAL # buildkit');
});

test('an ARG declared without a value appears empty in RUN history, as in BuildKit', async () => {
  const plan = await planBuild('FROM scratch\nARG EMPTY\nRUN true\n', planOptions());
  assert.equal(runs(plan)[0]!.history?.createdBy, 'RUN |1 EMPTY= /bin/sh -c true # buildkit');
});

test('automatic platform args come from the target and build platforms', async () => {
  const plan = await planBuild(
    'FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT\nRUN x\n',
    planOptions({ targetPlatform: { os: 'linux', architecture: 'arm', variant: 'v7' }, buildPlatform: amd64 }),
  );
  assert.deepEqual(runs(plan)[0]!.buildArgs, [
    ['TARGETPLATFORM', 'linux/arm/v7'],
    ['TARGETOS', 'linux'],
    ['TARGETARCH', 'arm'],
    ['TARGETVARIANT', 'v7'],
    ['BUILDPLATFORM', 'linux/amd64'],
    ['BUILDOS', 'linux'],
    ['BUILDARCH', 'amd64'],
    ['BUILDVARIANT', ''],
  ]);
  assert.deepEqual(plan.stages[0]!.platform, amd64);
});

test('expansion sees the base image Env; RUN strings are not expanded', async () => {
  const resolver = fakeResolver({ node: { config: { Env: ['PATH=/usr/bin', 'APP_HOME=/srv/app'] } } });
  const plan = await planBuild('FROM node\nWORKDIR $APP_HOME\nCOPY . $APP_HOME/\nRUN echo $APP_HOME\n', planOptions({ resolveImage: resolver }));
  assert.equal(steps(plan)[0]!.kind === 'workdir' && steps(plan)[0]!.kind, 'workdir');
  assert.equal(copies(plan)[0]!.dest, '/srv/app/');
  assert.deepEqual(runs(plan)[0]!.args, ['/bin/sh', '-c', 'echo $APP_HOME']);
});

test('a RUN sees variables in the order they were last set; the image Env keeps its order', async () => {
  const resolver = fakeResolver({ base: { config: { Env: ['PATH=/bin', 'HOME=/root'] } } });
  const plan = await planBuild('FROM base\nENV PATH=/opt/bin:$PATH\nARG V=1\nRUN x\n', planOptions({ resolveImage: resolver }));
  assert.deepEqual(runs(plan)[0]!.env, ['HOME=/root', 'PATH=/opt/bin:/bin', 'V=1']);
  assert.deepEqual(lastConfig(plan).Env, ['PATH=/opt/bin:/bin', 'HOME=/root']);
});

test('words expand in ADD, COPY, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ONBUILD triggers', async () => {
  const resolver = fakeResolver({ parent: { config: { Env: ['PATH=/bin'], OnBuild: ['LABEL from.trigger=$PORT'] } } });
  const plan = await planBuild(
    [
      'FROM parent',
      'ARG PORT=8080 NAME=app SIG=SIGINT',
      'ADD ${NAME}.tgz /opt/$NAME/',
      'COPY --chown=$NAME:$NAME ${NAME}.conf /etc/',
      'EXPOSE $PORT/udp',
      'LABEL "${NAME}.version"=1',
      'STOPSIGNAL $SIG',
      'USER $NAME',
      'VOLUME /var/$NAME',
      'WORKDIR /srv/$NAME',
      'CMD echo $NAME',
    ].join('\n'),
    planOptions({ resolveImage: resolver }),
  );
  const [add, copy] = copies(plan);
  assert.deepEqual([add!.sources, add!.dest, copy!.chown, copy!.sources], [[{ kind: 'context', path: 'app.tgz' }], '/opt/app/', 'app:app', [{ kind: 'context', path: 'app.conf' }]]);
  const config = lastConfig(plan);
  assert.deepEqual(config.ExposedPorts, { '8080/udp': {} });
  assert.deepEqual(config.Labels, { 'from.trigger': '', 'app.version': '1' });
  assert.deepEqual([config.StopSignal, config.User, config.Volumes, config.WorkingDir], ['SIGINT', 'app', { '/var/app': {} }, '/srv/app']);
  assert.deepEqual(config.Cmd, ['/bin/sh', '-c', 'echo $NAME'], 'CMD is not expanded');
});

test('relative WORKDIR and COPY destinations resolve against the working directory', async () => {
  const plan = await planBuild('FROM scratch\nWORKDIR /a\nWORKDIR b/../c\nCOPY x y\nCOPY x .\nCOPY x /abs/\n', planOptions());
  const [first, second] = steps(plan);
  assert.ok(first!.kind === 'workdir' && second!.kind === 'workdir');
  assert.equal(second.path, '/a/c');
  assert.deepEqual(copies(plan).map((c) => c.dest), ['/a/c/y', '/a/c/', '/abs/']);
  assert.equal(lastConfig(plan).WorkingDir, '/a/c');
});

test('SHELL wraps shell-form RUN, CMD and ENTRYPOINT; exec form is left alone', async () => {
  const plan = await planBuild('FROM scratch\nSHELL ["/bin/bash", "-eo", "pipefail", "-c"]\nRUN a | b\nRUN ["x", "y"]\nCMD serve\n', planOptions());
  assert.deepEqual(runs(plan).map((r) => r.args), [['/bin/bash', '-eo', 'pipefail', '-c', 'a | b'], ['x', 'y']]);
  assert.deepEqual(lastConfig(plan).Cmd, ['/bin/bash', '-eo', 'pipefail', '-c', 'serve']);
});

test('heredoc RUN: a shebang script is mounted under /dev/pipes/, a plain one is the shell script', async () => {
  const plan = await planBuild(
    'FROM scratch\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\nRUN <<-EOF\n\techo hi\nEOF\nRUN cat <<A > /a\nx\nA\n',
    planOptions(),
  );
  const [shebang, plain, embedded] = runs(plan);
  assert.deepEqual(shebang!.args, ['/bin/sh', '-c', '/dev/pipes/EOF']);
  assert.deepEqual(shebang!.files, [{ name: 'EOF', content: '#!/usr/bin/env python3\nprint(1)\n', mode: 0o755 }]);
  assert.deepEqual(plain!.args, ['/bin/sh', '-c', 'echo hi\n']);
  assert.deepEqual(plain!.files, []);
  assert.deepEqual(embedded!.args, ['/bin/sh', '-c', 'cat <<A > /a\nx\nA']);
  assert.match(shebang!.label, /RUN <<EOF \(#!\/usr\/bin\/env python3\.\.\.\)$/);
});

test('heredoc COPY sources: expanded unless the delimiter is quoted', async () => {
  const plan = await planBuild("FROM scratch\nENV NAME=world\nCOPY <<EOF <<'RAW' /etc/\nhello $NAME\nEOF\n$NAME\nRAW\n", planOptions());
  const copy = copies(plan)[0]!;
  assert.deepEqual(copy.sources, []);
  assert.deepEqual(copy.inlineSources, [
    { name: 'EOF', content: 'hello world\n', mode: 0o644 },
    { name: 'RAW', content: '$NAME\n', mode: 0o644 },
  ]);
  assert.equal(copy.history?.createdBy, 'COPY <<EOF <<RAW /etc/ # buildkit');
});

test('COPY --from by name, by index and from an image; stages depend on what they read', async () => {
  const resolver = fakeResolver();
  const plan = await planBuild(
    'FROM scratch AS build\nFROM scratch AS tools\nFROM scratch\nCOPY --from=build /a /a\nCOPY --from=1 /b /b\nCOPY --from=busybox:1.36 /bin/sh /sh\n',
    planOptions({ resolveImage: resolver }),
  );
  assert.deepEqual(copies(plan).map((c) => c.from), [
    { kind: 'stage', stage: 0 },
    { kind: 'stage', stage: 1 },
    { kind: 'image', ref: `docker.io/library/busybox:1.36@sha256:${'0'.repeat(63)}1` },
  ]);
  assert.deepEqual(plan.stages.map((s) => s.index), [0, 1, 2]);
  assert.deepEqual(plan.stages[2]!.dependsOn, [0, 1]);
  assert.deepEqual(resolver.calls, ['docker.io/library/busybox:1.36 linux/amd64']);
});

test('only the stages the target needs are planned, and only their images resolved', async () => {
  const resolver = fakeResolver();
  const plan = await planBuild(
    'FROM golang AS build\nRUN make\nFROM node AS unused\nRUN npm ci\nFROM alpine AS final\nCOPY --from=build /out /out\n',
    planOptions({ resolveImage: resolver }),
  );
  assert.deepEqual(plan.stages.map((s) => s.name), ['build', 'final']);
  assert.equal(plan.target, 2);
  assert.deepEqual(resolver.calls.sort(), ['docker.io/library/alpine:latest linux/amd64', 'docker.io/library/golang:latest linux/amd64']);
  const targeted = await planBuild('FROM golang AS build\nRUN make\nFROM alpine AS final\n', planOptions({ target: 'BUILD' }));
  assert.deepEqual(targeted.stages.map((s) => s.name), ['build']);
});

test('a stage built on another stage inherits its config, variables, args and working directory', async () => {
  const plan = await planBuild(
    'FROM scratch AS base\nARG V=1\nENV E=2\nWORKDIR /w\nFROM base\nRUN echo\n',
    planOptions(),
  );
  const run = runs(plan)[0]!;
  assert.deepEqual(plan.stages[1]!.base, { kind: 'stage', stage: 0 });
  assert.deepEqual(run.buildArgs, [['V', '1']]);
  assert.equal(run.workdir, '/w');
  assert.ok(run.env.includes('E=2') && run.env.includes('V=1'));
});

test('ONBUILD triggers of the base image run first; a stage\'s ONBUILD runs in stages built on it', async () => {
  const resolver = fakeResolver({ onbuild: { config: { Env: ['PATH=/bin'], OnBuild: ['RUN echo image-trigger', 'ENV T=1'] } } });
  const plan = await planBuild(
    'FROM onbuild AS base\nONBUILD RUN echo stage-trigger\nRUN echo base\nFROM base\nRUN echo child\n',
    planOptions({ resolveImage: resolver }),
  );
  assert.deepEqual(history(plan, 0), [
    'RUN /bin/sh -c echo image-trigger # buildkit',
    'ENV T=1 (empty)',
    '[base] ONBUILD RUN echo stage-trigger (no history)',
    'RUN /bin/sh -c echo base # buildkit',
  ]);
  assert.deepEqual(history(plan, 1), ['RUN /bin/sh -c echo stage-trigger # buildkit', 'RUN /bin/sh -c echo child # buildkit']);
  assert.deepEqual(steps(plan, 0).at(-1)!.config.OnBuild, ['RUN echo stage-trigger']);
  assert.equal(steps(plan, 1).at(-1)!.config.OnBuild, undefined);
  assert.match(steps(plan, 0)[0]!.label, /^\[base 2\/4\] ONBUILD RUN echo image-trigger$/);
  assert.equal(steps(plan, 0)[0]!.source.startLine, 1, 'triggers are located at the FROM line');
});

test('progress labels: stage name, padded step counter, FROM counted first', async () => {
  const plan = await planBuild(
    'FROM alpine AS build\nRUN a\nRUN b\nRUN c\nRUN d\nRUN e\nRUN f\nRUN g\nRUN h\nRUN i\nENV X=1\nFROM build\nRUN z\n',
    planOptions({ target: 'build' }),
  );
  assert.deepEqual(steps(plan).slice(0, 2).map((s) => s.label), ['[build  2/10] RUN a', '[build  3/10] RUN b']);
  assert.equal(steps(plan).at(-1)!.label, '[build] ENV X=1');
  const single = await planBuild('FROM scratch\nCOPY a b\nRUN make\n', planOptions());
  assert.deepEqual(steps(single).map((s) => s.label), ['[1/2] COPY a b', '[2/2] RUN make']);
});

test('RUN --mount: BuildKit defaults for every mount type', async () => {
  const plan = await planBuild(
    [
      'FROM scratch AS deps',
      'FROM scratch',
      'WORKDIR /src',
      'RUN --mount=type=cache,target=/root/.cache --mount=type=cache,target=rel,id=shared,sharing=locked,mode=0700,uid=1 ' +
        '--mount=type=bind,source=go.mod,target=go.mod --mount=type=bind,from=deps,target=/deps,rw ' +
        '--mount=type=secret,id=npm --mount=type=secret,id=tok,env=TOKEN --mount=type=ssh --mount=type=tmpfs,target=/t,size=64m make',
    ].join('\n'),
    planOptions(),
  );
  const run = runs(plan)[0]!;
  assert.deepEqual(run.mounts, [
    { type: 'cache', target: '/root/.cache', id: '/root/.cache', sharing: 'shared', source: '/', readonly: false, mode: 0o755, uid: 0, gid: 0 },
    { type: 'cache', target: '/src/rel', id: 'shared', sharing: 'locked', source: '/', readonly: false, mode: 0o700, uid: 1, gid: 0 },
    { type: 'bind', target: '/src/go.mod', source: '/go.mod', from: { kind: 'context' }, readonly: true },
    { type: 'bind', target: '/deps', source: '/', from: { kind: 'stage', stage: 0 }, readonly: false },
    { type: 'secret', id: 'npm', target: '/run/secrets/npm', required: false, mode: 0o400, uid: 0, gid: 0 },
    { type: 'secret', id: 'tok', env: 'TOKEN', required: false, mode: 0o400, uid: 0, gid: 0 },
    { type: 'ssh', id: 'default', target: '/run/buildkit/ssh_agent.0', required: false, mode: 0o600, uid: 0, gid: 0 },
    { type: 'tmpfs', target: '/t', size: 64 * 1024 * 1024 },
  ]);
  assert.ok(run.env.includes('SSH_AUTH_SOCK=/run/buildkit/ssh_agent.0'));
  assert.deepEqual(plan.stages[1]!.dependsOn, [0]);
});

test('RUN --mount values are expanded; --network and --security are passed through', async () => {
  const plan = await planBuild('FROM scratch\nARG CACHE=/cache\nRUN --mount=type=cache,target=$CACHE --network=none --security=insecure x\n', planOptions());
  const run = runs(plan)[0]!;
  assert.equal(run.mounts[0]!.type === 'cache' && run.mounts[0]!.target, '/cache');
  assert.equal(run.network, 'none');
  assert.equal(run.security, 'insecure');
});

test('ADD keeps URLs and Git sources and its optional flags', async () => {
  const plan = await planBuild(
    'FROM scratch\nADD --checksum=sha256:abc https://example.com/a.tgz /a/\nADD --keep-git-dir https://github.com/o/r.git#v1 /r\nADD --unpack=false x.tgz /x\nCOPY --parents --exclude=*.md --link a/./b /dst/\n',
    planOptions(),
  );
  const [url, git, local, parents] = copies(plan);
  assert.equal(url!.instruction, 'ADD');
  assert.deepEqual(url!.sources, [{ kind: 'http', url: 'https://example.com/a.tgz' }]);
  assert.equal(url!.checksum, 'sha256:abc');
  assert.equal(git!.sources[0]!.kind === 'git' && git!.sources[0]!.keepGitDir, true);
  assert.equal(local!.unpack, false);
  assert.equal(url!.unpack, undefined);
  assert.deepEqual([parents!.parents, parents!.link, parents!.exclude, parents!.sources], [true, true, ['*.md'], [{ kind: 'context', path: 'a/./b' }]]);
  assert.equal(parents!.history?.createdBy, 'COPY --parents a/./b /dst/ # buildkit');
});

test('unused --build-args are reported like Docker does; built-in ones are not', async () => {
  const plan = await planBuild('FROM scratch\nARG USED\n', planOptions({ buildArgs: { USED: '1', EXTRA: '2', HTTP_PROXY: 'p', BUILDKIT_INLINE_CACHE: '1' } }));
  assert.deepEqual(
    plan.warnings.map((w) => w.detail),
    ['One or more build-args [EXTRA] were not consumed'],
  );
});

test('the target platform reaches the resolver; FROM --platform overrides it', async () => {
  const resolver = fakeResolver();
  const plan = await planBuild('FROM --platform=linux/amd64 alpine AS a_amd64\nFROM alpine\nCOPY --from=a_amd64 / /\n', planOptions({ targetPlatform: arm64, resolveImage: resolver }));
  assert.deepEqual(resolver.calls.sort(), ['docker.io/library/alpine:latest linux/amd64', 'docker.io/library/alpine:latest linux/arm64']);
  assert.deepEqual(plan.stages.map((s) => s.platform.architecture), ['amd64', 'arm64']);
});

test('errors carry file, line, column, the line and a hint', async () => {
  const expectError = async (dockerfile: string, line: number, message: RegExp, hint?: RegExp, options = planOptions()) => {
    await assert.rejects(planBuild(dockerfile, options), (err: unknown) => {
      assert.ok(err instanceof DockerfileError);
      assert.match(err.message, message);
      assert.equal(err.location?.line, line);
      assert.equal(err.location?.file, 'Dockerfile');
      assert.equal(typeof err.location?.lineText, 'string');
      if (hint) assert.match(err.hint ?? '', hint);
      return true;
    });
  };
  await expectError('FROM alpine\nCOPPY . /app\n', 2, /unknown instruction: COPPY/, /did you mean COPY\?/);
  await expectError('FROM alpine\nADD --from=x a b\n', 2, /unknown flag: --from/, /--from is a flag of COPY/);
  await expectError('ARG V\nFROM alpine:$V\n', 2, /invalid reference format/, /ARG V has no value and no global default/);
  await expectError('FROM scratch AS a\nCOPY --from=b /x /y\nFROM scratch AS b\nCOPY --from=a /x /y\n', 4, /circular dependency detected on stage: a/);
  await expectError(
    'FROM scratch AS a\nCOPY --from=b /x /y\nFROM scratch AS b\n',
    2,
    /cannot copy from stage "b", it needs to be defined before current stage "a"/,
    /move the stage "b" above this one/,
    planOptions({ target: 'a' }),
  );
  await expectError('FROM scratch\nRUN --mount=type=bind,size=1 x\n', 2, /unexpected key 'size' for mount type 'bind'/);
  const failing = planOptions({
    resolveImage: async () => {
      throw new GantryError('pull access denied');
    },
  });
  await expectError('FROM scratch AS build\nFROM biuld\n', 2, /biuld: pull access denied/, /did you mean build\?/, failing);
});

test('a missing target names the stages', async () => {
  await assert.rejects(planBuild('FROM scratch AS build\nFROM scratch AS final\n', planOptions({ target: 'biuld' })), (err: unknown) => {
    assert.ok(err instanceof GantryError);
    assert.equal(err.message, 'target stage "biuld" could not be found');
    assert.equal(err.hint, 'did you mean build? stages are: build, final');
    return true;
  });
});

test('Windows targets fail loudly', async () => {
  await assert.rejects(planBuild('FROM scratch\n', planOptions({ targetPlatform: { os: 'windows', architecture: 'amd64' } })), /not supported/);
});

test('a failed plan keeps the warnings found before the error', async () => {
  await assert.rejects(planBuild('FROM scratch AS Bad\nMAINTAINER me\nBADCMD\n', planOptions()), (err: unknown) => {
    assert.ok(err instanceof DockerfileError);
    assert.deepEqual(err.warnings.map((w) => w.rule), ['StageNameCasing', 'MaintainerDeprecated']);
    return true;
  });
});
