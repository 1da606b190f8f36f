/**
 * Unpacking base image layers: a hand-made image (loaded with `gantry load`) whose layers hold
 * whiteouts, an opaque directory, hardlinks, symlinks, devices,
 * a FIFO, a security.capability xattr, PAX long names, set-id modes, owners and times. A build FROM
 * it sees the merged filesystem; a layer with an entry that leaves the root is refused cleanly.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { gantryOk, isRoot } from '../helpers/gantry.js';
import { assertStoreIntact, blobPath, build, busyboxRoot, failingBuild, layoutImage, storeState, tarOf, type TestRoot, umociUnpack, writeTree } from './support.js';

const run = promisify(execFile);
const LONG_DIR = `deep/${'d'.repeat(60)}/${'e'.repeat(60)}`;
const LONG_NAME = `${LONG_DIR}/${'f'.repeat(90)}.txt`;
const MTIME = 1_234_567_890;

const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Writes an OCI layout holding one image made of the given layers (uncompressed tars; gzipped here) on top of `baseLayers`. */
async function writeLayout(dir: string, name: string, baseLayers: Array<{ blob: Buffer; diffId: string }>, tars: Buffer[]): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (data: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha256(data);
    await writeFile(blobPath(dir, digest), data);
    return { digest, size: data.length };
  };
  const layers = [...baseLayers, ...tars.map((tar) => ({ blob: gzipSync(tar), diffId: sha256(tar) }))];
  const layerDescriptors = [];
  for (const layer of layers) layerDescriptors.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(layer.blob)) });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: '2020-01-01T00:00:00Z', created_by: `layer ${i}` })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...(await put(config)) },
      layers: layerDescriptors,
    }),
  );
  const manifestDescriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...(await put(manifest)), annotations: { 'org.opencontainers.image.ref.name': name } };
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [manifestDescriptor] }));
}

describe('base image layers', { skip: !isRoot && 'needs root (runc, overlay mounts, mknod, setcap)' }, () => {
  let t: TestRoot;
  let rootfs: string;
  const report = (name: string) => readFile(join(rootfs, 'report', name), 'utf8');

  before(async () => {
    t = await busyboxRoot('e2e-base');
    const busybox = await layoutImage(t.root, 'busybox:latest');
    const baseLayers = [{ blob: await readFile(blobPath(t.root, busybox.manifest.layers[0]!.digest)), diffId: busybox.config.rootfs.diff_ids[0]! }];

    // Layer 1, written by GNU tar from a real directory: devices, a FIFO, xattrs, long names, owners.
    const l1 = join(t.work, 'layer1');
    await writeTree(l1, {
      'data/keep.txt': 'keep\n',
      'data/gone.txt': 'gone\n',
      'olddir/a': 'a',
      'olddir/sub/b': 'b',
      'opaque/old1': 'old',
      'opaque/sub/old2': 'old',
      'links/orig': 'original\n',
      'links/hard': { hardlink: 'links/orig' },
      'links/sym': { symlink: 'orig' },
      'links/abs': { symlink: '/data/keep.txt' },
      'caps/ping': { content: '#!/bin/sh\n', mode: 0o755 },
      [LONG_NAME]: 'long\n',
      'owned/setuid': { content: 'x', mode: 0o755 },
    });
    await chmod(join(l1, 'owned/setuid'), 0o4755);
    await chown(join(l1, 'owned/setuid'), 1234, 5678);
    await chmod(join(l1, 'owned/setuid'), 0o4755);
    await utimes(join(l1, 'owned/setuid'), MTIME, MTIME);
    await symlink(`../${LONG_NAME}`, join(l1, `links/${'l'.repeat(120)}`));
    await mkdir(join(l1, 'devs'));
    await run('mknod', [join(l1, 'devs/null'), 'c', '1', '3']);
    await run('mknod', [join(l1, 'devs/fifo'), 'p']);
    await run('setcap', ['cap_net_raw+ep', join(l1, 'caps/ping')]);
    const l1Tar = (await run('tar', ['--format=pax', '--xattrs', '--xattrs-include=security.capability', '--numeric-owner', '-C', l1, '-cf', '-', '.'], { encoding: 'buffer', maxBuffer: 64 << 20 })).stdout;

    // Layer 2: whiteouts, an opaque directory, hardlinked files.
    const l2Tar = await tarOf(MTIME, [
      { name: 'data/', type: 'directory' },
      { name: 'data/.wh.gone.txt' },
      { name: '.wh.olddir' },
      { name: 'opaque/', type: 'directory' },
      { name: 'opaque/.wh..wh..opq' },
      { name: 'opaque/new', content: 'new\n' },
      { name: 'links/', type: 'directory' },
      { name: 'links/new-a', content: 'new pair\n' },
      { name: 'links/new-b', type: 'link', linkname: 'links/new-a' },
    ]);

    const layout = join(t.work, 'layout');
    await writeLayout(layout, 'crafted:1', baseLayers, [l1Tar, l2Tar]);
    await gantryOk(t.root, ['load', layout]);

    const context = await writeTree(join(t.work, 'ctx'), {
      Dockerfile: [
        'FROM crafted:1',
        'RUN mkdir /report && cd / && ls -A data > report/data && ls -A opaque > report/opaque && (test -e olddir && echo present || echo absent) > report/olddir' +
          ' && stat -c "%i %h" links/orig links/hard > report/inodes && stat -c "%i %h" links/new-a links/new-b > report/new-inodes && { readlink links/sym; readlink links/abs; } > report/symlinks && cat links/l*l > report/long-link' +
          ' && stat -c "%F %t:%T" devs/null > report/null && stat -c "%F" devs/fifo > report/fifo && stat -c "%a %u %g %Y" owned/setuid > report/setuid' +
          ` && cat ${LONG_NAME} > report/long-name && ls -A / > report/root`,
        '',
      ].join('\n'),
    });
    await build(t.root, context, ['-t', 'from-crafted:1']);
    rootfs = await umociUnpack(t.root, 'from-crafted:1', join(t.work, 'bundle'));
  });
  after(() => t?.cleanup());

  it('applies whiteouts and opaque directories', async () => {
    assert.equal(await report('data'), 'keep.txt\n');
    assert.equal(await report('olddir'), 'absent\n');
    assert.equal(await report('opaque'), 'new\n');
  });

  it('keeps hardlinks', async () => {
    for (const name of ['inodes', 'new-inodes']) {
      const lines = (await report(name)).trim().split('\n').map((line) => line.split(' '));
      assert.equal(lines.length, 2);
      assert.equal(new Set(lines.map(([inode]) => inode)).size, 1, await report(name));
      for (const [, count] of lines) assert.equal(count, '2');
    }
  });

  it('keeps symlinks as written, long names and long link targets (PAX)', async () => {
    assert.equal(await report('symlinks'), 'orig\n/data/keep.txt\n');
    assert.equal(await report('long-name'), 'long\n');
    assert.equal(await report('long-link'), 'long\n');
  });

  it('creates devices and FIFOs, and keeps set-id modes, owners and times', async () => {
    assert.equal(await report('null'), 'character special file 1:3\n');
    assert.equal(await report('fifo'), 'fifo\n');
    assert.equal(await report('setuid'), `4755 1234 5678 ${MTIME}\n`);
  });

  it('keeps security.capability, read back from the unpacked snapshot', async () => {
    const committed = join(t.root, 'snapshots', 'overlayfs', 'committed');
    const { stdout } = await run('sh', ['-c', `getcap ${committed}/*/fs/caps/ping`]);
    assert.match(stdout, /caps\/ping cap_net_raw=ep/);
  });

  it('refuses a layer entry that leaves the root, and leaves the store intact', async () => {
    const busybox = await layoutImage(t.root, 'busybox:latest');
    const baseLayers = [{ blob: await readFile(blobPath(t.root, busybox.manifest.layers[0]!.digest)), diffId: busybox.config.rootfs.diff_ids[0]! }];
    const layout = join(t.work, 'evil-layout');
    await writeLayout(layout, 'evil:1', baseLayers, [await tarOf(MTIME, [{ name: 'ok.txt', content: 'ok' }, { name: '../../../escaped-by-layer.txt', content: 'pwned' }])]);
    await gantryOk(t.root, ['load', layout]);
    const context = await writeTree(join(t.work, 'evil-ctx'), { Dockerfile: 'FROM evil:1\nRUN true\n' });
    const before = await storeState(t.root);
    const result = await failingBuild(t.root, context);
    assert.match(result.stderr, /escaped-by-layer\.txt.*escapes|escapes.*escaped-by-layer\.txt/);
    await assertStoreIntact(t.root, before);
    assert.equal((await run('find', [dirname(t.root), '-name', 'escaped-by-layer.txt'])).stdout, '', 'nothing was written outside the layer');
    const ok = await writeTree(join(t.work, 'after-evil'), { Dockerfile: 'FROM busybox:latest\nRUN echo fine > /fine\n' });
    await build(t.root, ok, ['-t', 'after-evil:1']);
  });
});
