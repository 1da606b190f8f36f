/**
 * Every config instruction written into the image as BuildKit writes it: the config fields, the
 * history (created_by, comment, empty_layer, created times), the author, --label, ONBUILD triggers
 * run when the image is used as a base, and FROM scratch.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gantry, isRoot } from '../helpers/gantry.js';
import { build, busyboxRoot, inspectImage, layoutImage, type TestRoot, umociUnpack, writeTree } from './support.js';
import { readFile, stat } from 'node:fs/promises';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('config instructions', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;
  let context: string;

  before(async () => {
    t = await busyboxRoot('e2e-instructions');
    context = await writeTree(join(t.work, 'app'), {
      'app.sh': { content: '#!/bin/sh\necho app\n', mode: 0o755 },
      'Dockerfile': [
        'FROM busybox:latest',
        'MAINTAINER Jane Doe <jane@example.com>',
        'ARG VERSION=1.0',
        'ENV APP_HOME=/opt/app GREETING="hello world"',
        'LABEL org.example.version=$VERSION "with space"=yes',
        'EXPOSE 8080 53/udp',
        'VOLUME ["/data", "/cache"]',
        'WORKDIR $APP_HOME',
        'COPY app.sh ./',
        'RUN echo "$VERSION $GREETING" > version.txt',
        'USER nobody:nogroup',
        'SHELL ["/bin/sh", "-ec"]',
        'STOPSIGNAL SIGQUIT',
        'HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD wget -q -O- http://localhost:8080/ || exit 1',
        'ONBUILD RUN id -un > /tmp/onbuild-user',
        'ONBUILD COPY child.txt ./',
        'ENTRYPOINT ["/opt/app/app.sh"]',
        'CMD ["--serve"]',
        '',
      ].join('\n'),
    });
    await build(t.root, context, ['-t', 'app:1', '--build-arg', 'VERSION=2.0', '--label', 'cli.label=from-cli']);
  });
  after(() => t?.cleanup());

  it('writes every config field as BuildKit does', async () => {
    const { config } = await layoutImage(t.root, 'app:1');
    assert.equal(config.architecture, 'amd64');
    assert.equal(config.os, 'linux');
    assert.equal(config.author, 'Jane Doe <jane@example.com>');
    assert.deepEqual(config.config, {
      User: 'nobody:nogroup',
      ExposedPorts: { '53/udp': {}, '8080/tcp': {} },
      Env: [DEFAULT_PATH, 'APP_HOME=/opt/app', 'GREETING=hello world'],
      Entrypoint: ['/opt/app/app.sh'],
      Cmd: ['--serve'],
      Volumes: { '/data': {}, '/cache': {} },
      WorkingDir: '/opt/app',
      Labels: { 'org.example.version': '2.0', 'with space': 'yes', 'cli.label': 'from-cli' },
      StopSignal: 'SIGQUIT',
      ArgsEscaped: true,
      Healthcheck: { Test: ['CMD-SHELL', 'wget -q -O- http://localhost:8080/ || exit 1'], Interval: 30_000_000_000, Timeout: 3_000_000_000, Retries: 2 },
      OnBuild: ['RUN id -un > /tmp/onbuild-user', 'COPY child.txt ./'],
      Shell: ['/bin/sh', '-ec'],
    });
  });

  it('writes the history: one entry per instruction, layers only for filesystem changes', async () => {
    const { config, manifest } = await layoutImage(t.root, 'app:1');
    const history = config.history ?? [];
    assert.deepEqual(
      history.slice(1).map((h) => [h.created_by, h.empty_layer ?? false]),
      [
        ['MAINTAINER Jane Doe <jane@example.com>', true],
        ['ARG VERSION=2.0', true],
        ['ENV APP_HOME=/opt/app GREETING=hello world', true],
        ['LABEL org.example.version=2.0 with space=yes', true],
        ['EXPOSE [53/udp 8080/tcp]', true],
        ['VOLUME [/data /cache]', true],
        ['WORKDIR /opt/app', false],
        ['COPY app.sh ./ # buildkit', false],
        ['RUN |1 VERSION=2.0 /bin/sh -c echo "$VERSION $GREETING" > version.txt # buildkit', false],
        ['USER nobody:nogroup', true],
        ['SHELL [/bin/sh -ec]', true],
        ['STOPSIGNAL SIGQUIT', true],
        ['HEALTHCHECK {Test:[CMD-SHELL wget -q -O- http://localhost:8080/ || exit 1] Interval:30s Timeout:3s StartPeriod:0s StartInterval:0s Retries:2}', true],
        ['ENTRYPOINT ["/opt/app/app.sh"]', true],
        ['CMD ["--serve"]', true],
      ],
    );
    for (const entry of history.slice(1)) assert.equal(entry.comment, 'buildkit.dockerfile.v0');
    assert.equal(history[0]?.created_by, 'gantry import', 'the base image history comes first, unchanged');
    assert.equal(manifest.layers.length, 4, 'base + WORKDIR + COPY + RUN');
    assert.equal(config.rootfs.diff_ids.length, 4);
    assert.equal(history.filter((h) => !h.empty_layer).length, manifest.layers.length);
  });

  it('dates config-only entries like BuildKit: leading ones with the first new layer, later ones with the layer before', async () => {
    const { config } = await layoutImage(t.root, 'app:1');
    const history = config.history ?? [];
    for (const entry of history) assert.ok(entry.created, `${entry.created_by} has no created time`);
    const created = (by: string) => history.find((h) => h.created_by?.startsWith(by))?.created;
    const workdir = created('WORKDIR');
    const run = created('RUN');
    for (const leading of ['MAINTAINER', 'ARG', 'ENV', 'LABEL', 'EXPOSE', 'VOLUME']) assert.equal(created(leading), workdir, leading);
    for (const trailing of ['USER', 'SHELL', 'STOPSIGNAL', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD']) assert.equal(created(trailing), run, trailing);
    assert.ok(Date.parse(history[0]!.created!) <= Date.parse(workdir!), 'the base entry keeps its own time');
    assert.equal(config.created, history.at(-1)?.created, 'the image is created when its last entry was');
  });

  it('runs the steps with the config in effect', async () => {
    const rootfs = await umociUnpack(t.root, 'app:1', join(t.work, 'app-bundle'));
    assert.equal(await readFile(join(rootfs, 'opt/app/version.txt'), 'utf8'), '2.0 hello world\n');
    const script = await stat(join(rootfs, 'opt/app/app.sh'));
    assert.equal(script.mode & 0o7777, 0o755);
    const workdir = await stat(join(rootfs, 'opt/app'));
    assert.equal(workdir.mode & 0o7777, 0o755);
    assert.equal(workdir.uid, 0, 'WORKDIR before USER creates a root-owned directory');
  });

  it('runs ONBUILD triggers in an image built FROM it, and drops them from the new image', async () => {
    const child = await writeTree(join(t.work, 'child'), {
      'child.txt': 'from the child context\n',
      'Dockerfile': 'FROM app:1\nRUN cat /tmp/onbuild-user child.txt > /tmp/seen\n',
    });
    const result = await build(t.root, child, ['-t', 'child:1']);
    assert.match(result.stderr, /ONBUILD RUN id -un > \/tmp\/onbuild-user/);
    const { config } = await layoutImage(t.root, 'child:1');
    assert.equal(config.config?.OnBuild, undefined, 'triggers run once, in the first image built from the base');
    assert.equal(config.config?.User, 'nobody:nogroup');
    const added = (config.history ?? []).slice(-3).map((h) => h.created_by);
    assert.deepEqual(added, ['RUN /bin/sh -ec id -un > /tmp/onbuild-user # buildkit', 'COPY child.txt ./ # buildkit', 'RUN /bin/sh -ec cat /tmp/onbuild-user child.txt > /tmp/seen # buildkit']);
    const rootfs = await umociUnpack(t.root, 'child:1', join(t.work, 'child-bundle'));
    assert.equal(await readFile(join(rootfs, 'tmp/seen'), 'utf8'), 'nobody\nfrom the child context\n');
  });

  it('builds FROM scratch (a Dockerfile named with -f): no base layers, the default PATH, the build platform', async () => {
    const scratch = await writeTree(join(t.work, 'scratch'), {
      'hello.txt': 'hello\n',
      'build/Scratch.dockerfile': 'FROM scratch\nCOPY hello.txt /\nENV X=1\nCMD ["/hello"]\n',
    });
    await build(t.root, scratch, ['-t', 'scratch:1', '-f', join(scratch, 'build/Scratch.dockerfile')]);
    const image = await inspectImage(t.root, 'scratch:1');
    assert.equal(image.Architecture, 'amd64');
    assert.equal(image.Os, 'linux');
    assert.deepEqual(image.Config.Env, [DEFAULT_PATH, 'X=1']);
    assert.equal(image.Layers.length, 1);
    assert.deepEqual(image.History.map((h) => h.created_by), ['COPY hello.txt / # buildkit', 'ENV X=1', 'CMD ["/hello"]']);
  });

  it('WORKDIR / changes only the config (no layer), as in BuildKit (Dockerfile from stdin)', async () => {
    const root = await writeTree(join(t.work, 'workdir-root'), {});
    const result = await gantry(t.root, ['build', '-t', 'workdir-root:1', '-f', '-', root], { input: 'FROM busybox:latest\nWORKDIR /\nRUN pwd > /pwd.txt\n' });
    assert.equal(result.code, 0, result.stderr);
    const { config, manifest } = await layoutImage(t.root, 'workdir-root:1');
    const workdir = config.history?.find((h) => h.created_by === 'WORKDIR /');
    assert.equal(workdir?.empty_layer, true);
    assert.equal(manifest.layers.length, 2, 'base + RUN');
  });
});
