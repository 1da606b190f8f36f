/**
 * RUN under runc: the environment (Env, default PATH, ARGs in effect), working directory, users and
 * groups from the rootfs's /etc files, SHELL, hostname, /etc/hosts and resolv.conf (mounted, never
 * committed), the kernel filesystems, networking, and the layer a RUN leaves: whiteouts for deleted
 * files, replaced directories, hardlinks.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isRoot } from '../helpers/gantry.js';
import { build, busyboxRoot, execFileAsync, layerItems, layoutImage, type TarItem, type TestRoot, umociUnpack, writeTree } from './support.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

describe('RUN', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;
  let rootfs: string;
  /** Entries of each RUN layer, by a word of its command. */
  const layers = new Map<string, TarItem[]>();
  let history: string[];
  let baseEtcMtime: number | undefined;

  const report = (name: string) => readFile(join(rootfs, 'report', name), 'utf8');

  before(async () => {
    t = await busyboxRoot('e2e-run');
    const context = await writeTree(join(t.work, 'ctx'), {
      Dockerfile: [
        'FROM busybox:latest',
        'ARG WITH_DEFAULT=default-value',
        'ARG FROM_CLI',
        'ARG UNSET',
        'ENV FROM_ENV=env-value',
        'WORKDIR /work/dir',
        'RUN mkdir /report && env > /report/env && pwd > /report/pwd && hostname > /report/hostname && cat /etc/hosts > /report/hosts && cat /proc/mounts > /report/mounts && id > /report/id-root && touch /dev/shm/probe && ls /proc/self/ > /report/proc && cat /proc/net/dev > /report/netdev-default',
        'USER nobody',
        'RUN id > /tmp/id-nobody',
        'USER operator:wheel',
        'RUN id > /tmp/id-operator',
        'USER 4242:4343',
        'RUN id > /tmp/id-numeric && touch /tmp/owned-numeric',
        'USER root',
        "RUN echo 'appuser:x:2000:2000::/home/appuser:/bin/sh' >> /etc/passwd && echo 'appuser:x:2000:' >> /etc/group && sed -i 's/^wheel:x:10:root$/wheel:x:10:root,appuser/' /etc/group && mkdir -p /home/appuser",
        'USER appuser',
        'RUN id > /tmp/id-appuser',
        'USER root',
        'SHELL ["/bin/busybox", "env", "SHELL_MARK=from-shell", "/bin/sh", "-c"]',
        'RUN echo "$SHELL_MARK" > /report/shell',
        'RUN rm /bin/vi && rm -r /var && mkdir -p /var/fresh && echo new > /var/fresh/file',
        'RUN echo data > /hl-a && ln /hl-a /hl-b',
        'RUN --network=none cat /proc/net/dev > /report/netdev-none',
        'RUN <<EOF',
        'echo "from a heredoc as $(id -un)" > /report/heredoc',
        'echo "second line" >> /report/heredoc',
        'EOF',
        'RUN cat <<EOF > /report/heredoc-input',
        'input $FROM_ENV',
        'EOF',
        '',
      ].join('\n'),
    });
    await build(t.root, context, ['-t', 'run:1', '--build-arg', 'FROM_CLI=cli-value']);
    rootfs = await umociUnpack(t.root, 'run:1', join(t.work, 'bundle'));
    const image = await layoutImage(t.root, 'run:1');
    history = (image.config.history ?? []).map((h) => h.created_by ?? '');
    baseEtcMtime = (await layerItems(t.root, image.manifest.layers[0]!)).find((item) => item.name.replace(/^\.\//, '') === 'etc/')?.mtime;
    const layerSteps = (image.config.history ?? []).filter((h) => !h.empty_layer);
    for (const [i, layer] of image.manifest.layers.entries()) {
      const by = layerSteps[i]?.created_by ?? '';
      const items = await layerItems(t.root, layer);
      for (const word of ['mkdir /report', 'rm /bin/vi', 'ln /hl-a', 'sed -i']) if (by.includes(word)) layers.set(word, items);
    }
  });
  after(() => t?.cleanup());

  it('exports Env, the default PATH and the ARGs in effect; ARGs are not kept in the image', async () => {
    const env = (await report('env')).split('\n');
    for (const wanted of [DEFAULT_PATH, 'FROM_ENV=env-value', 'WITH_DEFAULT=default-value', 'FROM_CLI=cli-value', 'HOME=/root']) {
      assert.ok(env.includes(wanted), `${wanted} missing from ${env.join(' ')}`);
    }
    assert.ok(!env.some((line) => line.startsWith('UNSET=')), 'an ARG without a value is not exported');
    const { config } = await layoutImage(t.root, 'run:1');
    assert.deepEqual(config.config?.Env, [DEFAULT_PATH, 'FROM_ENV=env-value']);
    assert.ok(history.some((h) => h.startsWith('RUN |3 WITH_DEFAULT=default-value FROM_CLI=cli-value UNSET= /bin/sh -c mkdir /report')), history.join('\n'));
  });

  it('creates the working directory and runs there', async () => {
    assert.equal(await report('pwd'), '/work/dir\n');
    const dir = await stat(join(rootfs, 'work/dir'));
    assert.ok(dir.isDirectory());
    assert.equal(dir.mode & 0o7777, 0o755);
  });

  it('resolves USER names, groups and ids from the image, with supplementary groups', async () => {
    const id = (name: string) => readFile(join(rootfs, 'tmp', `id-${name}`), 'utf8');
    assert.equal(await report('id-root'), 'uid=0(root) gid=0(root) groups=0(root),10(wheel)\n');
    assert.equal(await id('nobody'), 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n');
    assert.equal(await id('operator'), 'uid=37(operator) gid=10(wheel) groups=10(wheel)\n');
    assert.equal(await id('numeric'), 'uid=4242 gid=4343 groups=4343\n');
    assert.equal(await id('appuser'), 'uid=2000(appuser) gid=2000(appuser) groups=10(wheel),2000(appuser)\n');
    const owned = await stat(join(rootfs, 'tmp/owned-numeric'));
    assert.deepEqual([owned.uid, owned.gid], [4242, 4343]);
  });

  it('runs shell-form commands with SHELL, and heredoc scripts and inputs', async () => {
    assert.equal(await report('shell'), 'from-shell\n');
    assert.equal(await report('heredoc'), 'from a heredoc as root\nsecond line\n');
    assert.equal(await report('heredoc-input'), 'input env-value\n');
  });

  it('gives BuildKit\'s hostname and hosts file, and mounts /proc, /dev, /dev/shm, /sys', async () => {
    assert.equal(await report('hostname'), 'buildkitsandbox\n');
    assert.equal(await report('hosts'), '127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    const mounts = (await report('mounts')).split('\n').map((line) => line.split(' '));
    const at = (point: string) => mounts.find((m) => m[1] === point);
    assert.equal(at('/proc')?.[2], 'proc');
    assert.equal(at('/dev')?.[2], 'tmpfs');
    assert.equal(at('/dev/shm')?.[2], 'tmpfs');
    assert.equal(at('/sys')?.[2], 'sysfs');
    assert.match(at('/sys')?.[3] ?? '', /(^|,)ro(,|$)/);
    assert.ok(at('/etc/hosts'), '/etc/hosts is mounted');
    assert.ok(at('/etc/resolv.conf'), '/etc/resolv.conf is mounted');
    assert.equal(at('/etc/hostname'), undefined, 'BuildKit does not mount /etc/hostname');
    assert.match(await report('proc'), /\bstatus\b/);
  });

  it('never commits the mounted files or the mount points runc had to create', async () => {
    const names = (layers.get('mkdir /report') ?? []).map((item) => item.name.replace(/\/$/, ''));
    assert.ok(names.includes('report/env'), names.join(' '));
    for (const absent of ['etc/hosts', 'etc/resolv.conf', 'etc/hostname', 'proc', 'dev', 'dev/shm/probe', 'sys']) {
      assert.ok(!names.includes(absent), `${absent} is in the layer: ${names.join(' ')}`);
    }
    for (const absent of ['etc/hosts', 'etc/resolv.conf', 'proc', 'sys', 'dev']) {
      await assert.rejects(stat(join(rootfs, absent)), `${absent} is in the image`);
    }
    assert.ok(baseEtcMtime !== undefined);
    assert.equal(Math.floor((await stat(join(rootfs, 'etc'))).mtimeMs / 1000), baseEtcMtime, '/etc keeps its time: the mount points made in it are gone without a trace');
  });

  it('writes a deleted file as a whiteout and a replaced directory so that nothing of the old one shows', async () => {
    const items = layers.get('rm /bin/vi') ?? [];
    const whiteout = items.find((item) => item.name === 'bin/.wh.vi');
    assert.ok(whiteout, items.map((i) => i.name).join(' '));
    assert.equal(whiteout.type, 'file');
    assert.equal(whiteout.size, 0);
    await assert.rejects(stat(join(rootfs, 'bin/vi')));
    assert.ok((await stat(join(rootfs, 'bin/sh'))).isFile() || (await stat(join(rootfs, 'bin/sh'))).isSymbolicLink());
    await assert.rejects(stat(join(rootfs, 'var/spool')), '/var was replaced: its old contents are gone');
    assert.equal(await readFile(join(rootfs, 'var/fresh/file'), 'utf8'), 'new\n');
    const later = await writeTree(join(t.work, 'later'), { Dockerfile: 'FROM run:1\nRUN ls -A /var > /var-listing && test ! -e /bin/vi\n' });
    await build(t.root, later, ['-t', 'run-later:1']);
    const laterRootfs = await umociUnpack(t.root, 'run-later:1', join(t.work, 'later-bundle'));
    assert.equal(await readFile(join(laterRootfs, 'var-listing'), 'utf8'), 'fresh\n', 'gantry reads its own whiteouts back when building on the image');
  });

  it('keeps hardlinks made in a RUN as hardlinks in the layer', async () => {
    const items = layers.get('ln /hl-a') ?? [];
    const links = items.filter((item) => item.type === 'link');
    assert.equal(links.length, 1, items.map((i) => `${i.name}:${i.type}`).join(' '));
    assert.deepEqual([links[0]!.name, links[0]!.linkname].sort(), ['hl-a', 'hl-b']);
    const [a, b] = await Promise.all([stat(join(rootfs, 'hl-a')), stat(join(rootfs, 'hl-b'))]);
    assert.equal(a.ino, b.ino);
    assert.equal(a.nlink, 2);
  });

  it('records /etc/passwd changes made by RUN in the layer', async () => {
    const names = (layers.get('sed -i') ?? []).map((item) => item.name);
    assert.ok(names.includes('etc/passwd') && names.includes('etc/group') && names.includes('home/appuser/'), names.join(' '));
  });

  it('uses the sandbox network by default, none on request, and the host network with --network host (a path as --runtime)', async () => {
    const interfaces = (text: string) =>
      text
        .split('\n')
        .slice(2)
        .map((line) => line.split(':')[0]!.trim())
        .filter(Boolean)
        .sort();
    assert.deepEqual(interfaces(await report('netdev-default')), ['lo', 'tap0'], 'a namespace of its own, with slirp4netns\'s tap0');
    assert.deepEqual(interfaces(await report('netdev-none')), ['lo']);
    const netdev = await writeTree(join(t.work, 'netdev'), { Dockerfile: 'FROM busybox:latest\nRUN cat /proc/net/dev > /netdev\n' });
    const runc = (await execFileAsync('sh', ['-c', 'command -v runc'])).stdout.trim();
    await build(t.root, netdev, ['-t', 'none:1', '--network', 'none', '--runtime', runc]);
    const noneRootfs = await umociUnpack(t.root, 'none:1', join(t.work, 'none-bundle'));
    assert.deepEqual(interfaces(await readFile(join(noneRootfs, 'netdev'), 'utf8')), ['lo']);
    // --network host is itself the grant for network.host, as in buildx.
    await build(t.root, netdev, ['-t', 'host:1', '--network', 'host']);
    const hostRootfs = await umociUnpack(t.root, 'host:1', join(t.work, 'host-bundle'));
    assert.deepEqual(interfaces(await readFile(join(hostRootfs, 'netdev'), 'utf8')), interfaces(await readFile('/proc/net/dev', 'utf8')));
  });
});
