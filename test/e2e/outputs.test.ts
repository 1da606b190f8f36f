/**
 * Build outputs and what reads them: OCI layouts (tar and directory) for skopeo and umoci, docker
 * archives for a real Docker engine, the filesystem as a directory or a tar; save and load; progress
 * output (plain, json, -q); and reproducible builds with SOURCE_DATE_EPOCH.
 */
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { gantry, gantryOk, isRoot } from '../helpers/gantry.js';
import { DockerEngine } from '../helpers/docker-engine.js';
import { build, busyboxRoot, execFileAsync, layerItems, layoutImage, tarItems, type TestRoot, umociUnpack, writeTree } from './support.js';

const EPOCH = 1_700_000_000;
const OLD_MTIME = 1_000_000;

describe('outputs', { skip: !isRoot && 'needs root (runc, overlay mounts, dockerd)' }, () => {
  let t: TestRoot;
  let context: string;
  let digest: string;
  let out: string;
  let engine: DockerEngine | undefined;

  before(async () => {
    t = await busyboxRoot('e2e-outputs');
    out = join(t.work, 'out');
    context = await writeTree(join(t.work, 'ctx'), {
      'greeting.txt': { content: 'hello from the context\n', mode: 0o640, mtime: OLD_MTIME },
      'fresh.txt': 'written just now\n',
      'Dockerfile': [
        'FROM busybox:latest',
        'COPY greeting.txt fresh.txt /app/',
        'RUN echo "output of run" && echo built > /app/built.txt && chmod 4755 /app/built.txt && rm /bin/vi',
        'CMD ["cat", "/app/greeting.txt"]',
        '',
      ].join('\n'),
    });
    const result = await build(t.root, context, [
      '-t', 'out:1',
      '-o', `type=oci,dest=${join(out, 'image-oci.tar')}`,
      '-o', `type=oci,dest=${join(out, 'layout')}/`,
      '-o', `type=docker,dest=${join(out, 'image-docker.tar')}`,
      '-o', `type=local,dest=${join(out, 'rootfs')}`,
      '-o', `type=tar,dest=${join(out, 'rootfs.tar')}`,
    ]);
    digest = result.digest;
    if (await DockerEngine.available()) {
      engine = new DockerEngine(join(t.work, 'docker'));
      await mkdir(join(t.work, 'docker'));
      await engine.start();
    }
  });
  after(async () => {
    await engine?.stop();
    await t?.cleanup();
  });

  it('the store itself is read by skopeo and umoci', async () => {
    const inspected = JSON.parse((await execFileAsync('skopeo', ['inspect', `oci:${t.root}:out:1`])).stdout) as { Digest: string; Layers: string[] };
    assert.equal(inspected.Digest, digest);
    const rootfs = await umociUnpack(t.root, 'out:1', join(t.work, 'store-bundle'));
    assert.equal(await readFile(join(rootfs, 'app/built.txt'), 'utf8'), 'built\n');
  });

  it('writes an OCI layout as a tar and as a directory', async () => {
    const fromTar = JSON.parse((await execFileAsync('skopeo', ['inspect', `oci-archive:${join(out, 'image-oci.tar')}`])).stdout) as { Digest: string };
    assert.equal(fromTar.Digest, digest);
    assert.ok((await lstat(join(out, 'layout'))).isDirectory(), 'dest ending with / is a directory');
    const fromDir = JSON.parse((await execFileAsync('skopeo', ['inspect', `oci:${join(out, 'layout')}`])).stdout) as { Digest: string };
    assert.equal(fromDir.Digest, digest);
    const image = await layoutImage(join(out, 'layout'), digest);
    const name = image.descriptor.annotations?.['org.opencontainers.image.ref.name'];
    assert.ok(name, 'the layout names the image');
    const rootfs = await umociUnpack(join(out, 'layout'), name, join(t.work, 'layout-bundle'));
    assert.equal(await readFile(join(rootfs, 'app/greeting.txt'), 'utf8'), 'hello from the context\n');
  });

  it('writes the filesystem as a directory and as a tar, without the files RUN mounted', async () => {
    const rootfs = join(out, 'rootfs');
    assert.equal(await readFile(join(rootfs, 'app/built.txt'), 'utf8'), 'built\n');
    const built = await lstat(join(rootfs, 'app/built.txt'));
    assert.equal(built.mode & 0o7777, 0o4755);
    const greeting = await lstat(join(rootfs, 'app/greeting.txt'));
    assert.deepEqual([greeting.mode & 0o7777, greeting.uid, greeting.gid, Math.floor(greeting.mtimeMs / 1000)], [0o640, 0, 0, OLD_MTIME]);
    await assert.rejects(lstat(join(rootfs, 'bin/vi')));
    assert.deepEqual((await readdir(join(rootfs, 'etc'))).sort(), ['group', 'passwd']);
    const names = (await tarItems(join(out, 'rootfs.tar'), false)).map((item) => item.name.replace(/^\.\//, ''));
    for (const wanted of ['app/built.txt', 'app/greeting.txt', 'bin/busybox']) assert.ok(names.includes(wanted), wanted);
    assert.ok(!names.includes('bin/vi'));
  });

  it('an output that cannot be written whole (a full disk) leaves nothing under its name or beside it, and names no image', async () => {
    const full = join(t.work, 'full');
    await mkdir(full);
    // Smaller than the image's root filesystem and its layers.
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', full]);
    try {
      const index = await readFile(join(t.root, 'index.json'), 'utf8');
      const outputs = [`type=local,dest=${join(full, 'rootfs')}`, `type=oci,dest=${join(full, 'layout')}/`, `type=docker,dest=${join(full, 'image.tar')}`];
      for (const output of outputs) {
        const result = await gantry(t.root, ['build', '--progress', 'plain', '-t', 'not-written:1', '-o', output, context]);
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, /^error: no space left on the device/m);
        assert.deepEqual(await readdir(full), [], `${output}: nothing is left in the output's directory`);
        assert.equal(await readFile(join(t.root, 'index.json'), 'utf8'), index, `${output}: the failed build named no image`);
      }
    } finally {
      await execFileAsync('umount', [full]);
    }
  });

  it('docker load reads the docker output and gantry save archives; the image runs in Docker', async (ctx) => {
    if (!engine) return ctx.skip('dockerd is not installed');
    const { config } = await layoutImage(t.root, 'out:1');
    assert.match(await engine.docker('load', '--input', join(out, 'image-docker.tar')), /Loaded image: out:1/);
    const inspected = JSON.parse(await engine.docker('image', 'inspect', 'out:1')) as Array<{ Id: string; RootFS: { Layers: string[] }; Config: { Cmd: string[] } }>;
    assert.equal(inspected[0]?.RootFS.Layers.length, config.rootfs.diff_ids.length);
    assert.deepEqual(inspected[0]?.RootFS.Layers, config.rootfs.diff_ids);
    assert.deepEqual(inspected[0]?.Config.Cmd, ['cat', '/app/greeting.txt']);
    assert.equal(await engine.docker('run', '--rm', '--network', 'none', 'out:1'), 'hello from the context\n');
    assert.equal(await engine.docker('run', '--rm', '--network', 'none', 'out:1', 'sh', '-c', 'test ! -e /bin/vi && cat /app/built.txt'), 'built\n');

    await gantryOk(t.root, ['tag', 'out:1', 'saved:2']);
    const saved = join(t.work, 'saved-docker.tar');
    await gantryOk(t.root, ['save', 'saved:2', '-o', saved]);
    assert.match(await engine.docker('load', '--input', saved), /Loaded image: saved:2/);
  });

  it('save and load carry images between stores, in docker and oci formats', async () => {
    for (const format of ['docker', 'oci']) {
      const archive = join(t.work, `saved-${format}.tar`);
      await gantryOk(t.root, ['save', '--format', format, '-o', archive, 'out:1']);
      const other = join(t.work, `other-${format}`);
      const loaded = await gantryOk(other, ['load', archive]);
      assert.match(loaded.stdout, /Loaded image: out:1/);
      const inspected = JSON.parse((await gantryOk(other, ['inspect', 'out:1'])).stdout) as Array<{ Digest: string }>;
      assert.equal(inspected[0]?.Digest, digest, `${format}: the same manifest after the round trip`);
    }
  });

  it('prints plain progress with the RUN output and CACHED steps on a rebuild', async () => {
    const again = await build(t.root, context, ['-t', 'out:1']);
    assert.equal(again.digest, digest, 'a rebuild from cache gives the same image');
    assert.match(again.stderr, /^#\d+ \[2\/3\] COPY greeting\.txt fresh\.txt \/app\/\n#\d+ CACHED$/m);
    assert.match(again.stderr, /^#\d+ \[3\/3\] RUN echo "output of run".*\n#\d+ CACHED$/m);
    const fresh = await build(t.root, context, ['--no-cache']);
    assert.match(fresh.stderr, /^#(\d+) \[3\/3\] RUN echo "output of run"[^\n]*\n(?:#\1 [^\n]*\n)*#\1 \d+\.\d+ output of run\n(?:#\1 [^\n]*\n)*#\1 DONE \d+\.\d+s$/m);
  });

  it('prints one JSON event per line with --progress json, and only the digest with -q', async () => {
    const json = await gantryOk(t.root, ['build', '--progress', 'json', '--no-cache', context]);
    const events = json.stderr.trim().split('\n').map((line) => JSON.parse(line) as { type: string; label?: string; data?: string; digest?: string });
    assert.ok(events.some((e) => e.type === 'step-start' && e.label?.includes('RUN echo')));
    assert.ok(events.some((e) => e.type === 'step-log' && e.data?.includes('output of run')));
    assert.ok(events.some((e) => e.type === 'step-done'));
    const result = events.at(-1);
    assert.equal(result?.type, 'result');
    assert.match(result?.digest ?? '', /^sha256:[a-f0-9]{64}$/);
    // The --no-cache build just made the cache records this build reuses, so it gives the same image.
    const quiet = await gantryOk(t.root, ['build', '-q', context]);
    assert.equal(quiet.stdout, `${result?.digest}\n`);
    assert.doesNotMatch(quiet.stderr, /#\d+/);
  });
});

describe('SOURCE_DATE_EPOCH', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;
  let otherRoot: string;
  let context: string;

  before(async () => {
    t = await busyboxRoot('e2e-epoch');
    // The second store gets the very same base image (an import is dated when it is made).
    const archive = join(t.work, 'busybox.tar');
    await gantryOk(t.root, ['save', '--format', 'oci', '-o', archive, 'busybox:latest']);
    otherRoot = join(t.work, 'other-root');
    await gantryOk(otherRoot, ['load', archive]);
    context = await writeTree(join(t.work, 'ctx'), {
      'old.txt': { content: 'old\n', mtime: OLD_MTIME },
      'new.txt': 'new\n',
      'Dockerfile': 'FROM busybox:latest\nLABEL stage=one\nCOPY old.txt new.txt /files/\nRUN echo made > /files/when && mkdir /files/made\nWORKDIR /files/work\nCMD ["sh"]\n',
    });
  });
  after(() => t?.cleanup());

  it('gives the same image digest in two empty stores, dated by the epoch, with newer file times clamped', async () => {
    const env = { SOURCE_DATE_EPOCH: String(EPOCH) };
    const first = await build(t.root, context, ['-t', 'epoch:1'], env);
    await sleep(1100);
    const second = await build(otherRoot, context, ['-t', 'epoch:1'], env);
    assert.equal(second.digest, first.digest);
    const viaArg = await build(t.root, context, ['--no-cache', '--build-arg', `SOURCE_DATE_EPOCH=${EPOCH}`]);
    assert.equal(viaArg.digest, first.digest, 'the build arg works like the environment variable');

    const { config, manifest } = await layoutImage(t.root, 'epoch:1');
    const epochTime = new Date(EPOCH * 1000).getTime();
    assert.equal(Date.parse(config.created ?? ''), epochTime);
    const history = config.history ?? [];
    assert.notEqual(Date.parse(history[0]?.created ?? ''), epochTime, 'the base image keeps its own history time');
    for (const entry of history.slice(1)) assert.equal(Date.parse(entry.created ?? ''), epochTime, entry.created_by);

    const items = (await Promise.all(manifest.layers.slice(1).map((layer) => layerItems(t.root, layer)))).flat();
    const mtime = (name: string) => items.find((item) => item.name === name)?.mtime;
    assert.equal(mtime('files/old.txt'), OLD_MTIME, 'older times are kept');
    assert.equal(mtime('files/new.txt'), EPOCH);
    assert.equal(mtime('files/when'), EPOCH);
    assert.equal(mtime('files/made/'), EPOCH);
    assert.equal(mtime('files/work/'), EPOCH);
    for (const item of items) assert.ok(item.mtime <= EPOCH, `${item.name} is dated after the epoch`);
  });
});
