/**
 * The store: the image commands (images, inspect, history, tag, rmi, prune, du), the layout as skopeo
 * and umoci read it, layers unpacked once into snapshots keyed by chain ID, two builds at once on one
 * root, and builds killed at any moment: the store stays consistent and the next commands work.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { gantry, gantryBin, gantryOk, isRoot } from '../helpers/gantry.js';
import { assertNothingLeft, blobPath, build, busyboxRoot, execFileAsync, fileDigest, inspectImage, layoutImage, mountsUnder, type OciDescriptor, type TestRoot, umociUnpack, writeTree } from './support.js';

/** Every blob's content matches its name, and everything index.json reaches is present. */
async function assertStoreConsistent(root: string): Promise<void> {
  const dir = join(root, 'blobs', 'sha256');
  for (const name of await readdir(dir)) assert.equal(await fileDigest(join(dir, name)), `sha256:${name}`, `blob ${name} is corrupt`);
  const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as { manifests: OciDescriptor[] };
  for (const descriptor of index.manifests) {
    const manifest = JSON.parse(await readFile(blobPath(root, descriptor.digest), 'utf8')) as { config: OciDescriptor; layers: OciDescriptor[] };
    for (const blob of [manifest.config, ...manifest.layers]) await readFile(blobPath(root, blob.digest)).then((b) => assert.equal(b.length, blob.size));
  }
}

function chainIds(diffIds: string[]): string[] {
  const chains: string[] = [];
  for (const diffId of diffIds) {
    const previous = chains.at(-1);
    chains.push(previous ? `sha256:${createHash('sha256').update(`${previous} ${diffId}`).digest('hex')}` : diffId);
  }
  return chains;
}

describe('store and image commands', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;
  let context: string;

  before(async () => {
    t = await busyboxRoot('e2e-store');
    context = await writeTree(join(t.work, 'ctx'), {
      'data.txt': 'some data\n',
      'Dockerfile': 'FROM busybox:latest\nCOPY data.txt /data.txt\nRUN echo more >> /data.txt\nLABEL purpose=store-test\nCMD ["cat", "/data.txt"]\n',
    });
    await build(t.root, context, ['-t', 'app:1']);
  });
  after(() => t?.cleanup());

  it('inspect gives Digest, RepoTags, Architecture, Os, Layers and Config', async () => {
    const image = await inspectImage(t.root, 'app:1');
    const { descriptor, config } = await layoutImage(t.root, 'app:1');
    assert.equal(image.Digest, descriptor.digest);
    assert.deepEqual(image.RepoTags, ['app:1']);
    assert.equal(image.Architecture, 'amd64');
    assert.equal(image.Os, 'linux');
    assert.deepEqual(image.Layers, config.rootfs.diff_ids);
    assert.deepEqual(image.Config.Cmd, ['cat', '/data.txt']);
    assert.deepEqual(image.Config.Labels, { purpose: 'store-test' });
  });

  it('writes OCI media types and gzip layers', async () => {
    const { descriptor, manifest } = await layoutImage(t.root, 'app:1');
    assert.equal(descriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    for (const layer of manifest.layers) {
      assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
      const head = (await readFile(blobPath(t.root, layer.digest))).subarray(0, 2);
      assert.deepEqual([...head], [0x1f, 0x8b], 'gzip magic');
    }
  });

  it('run executes the image\'s command or the one given, passes its exit code, and leaves nothing behind', async () => {
    assert.equal((await gantryOk(t.root, ['run', '--rm', 'app:1'])).stdout, 'some data\nmore\n');
    assert.equal((await gantryOk(t.root, ['run', '--rm', 'app:1', 'sh', '-c', 'echo "$PATH"; id -u'])).stdout, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n0\n');
    const failed = await gantry(t.root, ['run', '--rm', 'app:1', 'sh', '-c', 'echo out; exit 3']);
    assert.equal(failed.code, 3);
    assert.equal(failed.stdout, 'out\n');
    await assertNothingLeft(t.root);
  });

  it('images lists names, history shows the steps newest first', async () => {
    const images = (await gantryOk(t.root, ['images'])).stdout;
    assert.match(images, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/);
    assert.match(images, /^app\s+1\s+[0-9a-f]{12}\s/m);
    assert.match(images, /^busybox\s+latest\s/m);
    const history = (await gantryOk(t.root, ['history', 'app:1'])).stdout.split('\n');
    assert.match(history[0] ?? '', /^CREATED\s+CREATED BY\s+SIZE/);
    assert.match(history[1] ?? '', /CMD \["cat" "\/data\.txt"\]\s+0B/);
    assert.match(history[3] ?? '', /RUN \/bin\/sh -c echo more >> \/data\.txt/);
    assert.match(history.at(-2) ?? '', /gantry import/);
  });

  it('tag adds a name skopeo and umoci find; rmi removes only the name', async () => {
    await gantryOk(t.root, ['tag', 'app:1', 'registry.example.com/team/app:2']);
    const inspected = JSON.parse((await execFileAsync('skopeo', ['inspect', `oci:${t.root}:registry.example.com/team/app:2`])).stdout) as { Digest: string };
    assert.equal(inspected.Digest, (await inspectImage(t.root, 'app:1')).Digest);
    const rootfs = await umociUnpack(t.root, 'registry.example.com/team/app:2', join(t.work, 'tagged-bundle'));
    assert.equal(await readFile(join(rootfs, 'data.txt'), 'utf8'), 'some data\nmore\n');
    assert.match((await gantryOk(t.root, ['rmi', 'registry.example.com/team/app:2'])).stdout, /Untagged: registry\.example\.com\/team\/app:2/);
    const missing = await gantry(t.root, ['inspect', 'registry.example.com/team/app:2']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /no such image/);
    assert.equal((await inspectImage(t.root, 'app:1')).RepoTags.length, 1);
  });

  it('unpacks each layer once, into a snapshot named by its chain ID', async () => {
    const second = await writeTree(join(t.work, 'second'), { Dockerfile: 'FROM app:1\nRUN echo second > /second.txt\n' });
    await build(t.root, second, ['-t', 'second:1']);
    const { config } = await layoutImage(t.root, 'second:1');
    const byChain = join(t.root, 'snapshots', 'overlayfs', 'by-chain');
    const links = await readdir(byChain);
    const committed = await readdir(join(t.root, 'snapshots', 'overlayfs', 'committed'));
    for (const chain of chainIds(config.rootfs.diff_ids)) assert.ok(links.includes(chain.slice(7)), `no snapshot for chain ${chain}`);
    const targets = await Promise.all(links.map((link) => readlink(join(byChain, link))));
    assert.equal(new Set(targets).size, links.length, 'one snapshot per chain');
    assert.equal(committed.length, links.length, 'no snapshot without a chain');
  });

  it('du shows the store\'s parts; prune prints what it freed and leaves tagged images whole', async () => {
    const du = (await gantryOk(t.root, ['du'])).stdout;
    assert.match(du, /^blobs .*\d/m);
    assert.match(du, /^snapshots .*\d/m);
    assert.match(du, /^total\s+\d/m);
    await build(t.root, context, ['--no-cache', '--build-arg', 'UNUSED=1']);
    await gantryOk(t.root, ['rmi', 'second:1']);
    const pruned = (await gantryOk(t.root, ['prune'])).stdout;
    assert.match(pruned, /Deleted [1-9]\d* untagged images, [1-9]\d* cache records, [1-9]\d* blobs, [1-9]\d* snapshots/);
    assert.match(pruned, /Total reclaimed space: [\d.]+[kMG]?B/);
    await assertStoreConsistent(t.root);
    const rootfs = await umociUnpack(t.root, 'app:1', join(t.work, 'pruned-bundle'));
    assert.equal(await readFile(join(rootfs, 'data.txt'), 'utf8'), 'some data\nmore\n');
    const rebuilt = await build(t.root, context, ['-t', 'app:1']);
    assert.match(rebuilt.stderr, /RUN echo more/);
  });
});

async function deadPid(): Promise<number> {
  const child = spawn('true');
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return child.pid!;
}

describe('concurrent and interrupted builds', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;

  before(async () => {
    t = await busyboxRoot('e2e-concurrency');
  });
  after(() => t?.cleanup());

  it('two builds at once on one root both succeed and corrupt nothing', async () => {
    const contexts = await Promise.all(
      ['one', 'two'].map((name) =>
        writeTree(join(t.work, name), {
          'file.txt': `${name}\n`,
          'Dockerfile': `FROM busybox:latest\nRUN echo shared > /shared.txt\nCOPY file.txt /\nRUN for i in 1 2 3 4 5; do echo ${name}-$i >> /log.txt; done\nRUN head -c 2000000 /dev/urandom > /random.bin\n`,
        }),
      ),
    );
    const [one, two] = await Promise.all(contexts.map((context, i) => build(t.root, context, ['-t', `parallel:${i + 1}`])));
    assert.notEqual(one.digest, two.digest);
    await assertStoreConsistent(t.root);
    for (const [i, name] of ['one', 'two'].entries()) {
      const rootfs = await umociUnpack(t.root, `parallel:${i + 1}`, join(t.work, `parallel-${name}`));
      assert.equal(await readFile(join(rootfs, 'file.txt'), 'utf8'), `${name}\n`);
      assert.equal(await readFile(join(rootfs, 'shared.txt'), 'utf8'), 'shared\n');
    }
    await assertNothingLeft(t.root);
  });

  it('the staging area of a killed load and the archive copy of a killed command are removed by prune, a live one\'s kept', async () => {
    const dead = await deadPid();
    const tmp = join(t.root, 'tmp');
    await mkdir(join(tmp, `load-${dead}-AbC123`, 'blobs', 'sha256'), { recursive: true });
    await writeFile(join(tmp, `load-${dead}-AbC123`, 'blobs', 'sha256', 'partial'), 'half a layer');
    await writeFile(join(tmp, `archive-${dead}-0123456789ab.tar`), 'half an archive');
    const live = `load-${process.pid}-XyZ789`;
    await mkdir(join(tmp, live));
    try {
      await gantryOk(t.root, ['prune', '--keep-cache']);
      assert.deepEqual((await readdir(tmp)).filter((name) => name !== 'empty'), [live]);
    } finally {
      await rm(join(tmp, live), { recursive: true, force: true });
    }
  });

  it('the temporary file of an atomic write a killed process left is removed by prune, a live one’s kept', async () => {
    const dead = await deadPid();
    const leftovers = [join(t.root, `.tmp-index.json-${dead}-0123456789ab`), join(t.root, 'cache', 'records', `.tmp-${'a'.repeat(64)}.json-${dead}-ba9876543210`)];
    const live = join(t.root, `.tmp-index.json-${process.pid}-aaaaaaaaaaaa`);
    await mkdir(join(t.root, 'cache', 'records'), { recursive: true });
    for (const path of [...leftovers, live]) await writeFile(path, '{"half":');
    try {
      await gantryOk(t.root, ['prune', '--keep-cache']);
      for (const path of leftovers) await assert.rejects(readFile(path), /ENOENT/, `${path} is removed`);
      assert.equal(await readFile(live, 'utf8'), '{"half":');
    } finally {
      await rm(live, { force: true });
    }
  });

  it('an overlay probe left mounted by a killed process is unmounted and removed', async () => {
    const probe = join(t.root, 'snapshots', `probe-${await deadPid()}-0123abcd`);
    for (const dir of ['lower', 'upper', 'work', 'merged']) await mkdir(join(probe, dir), { recursive: true });
    await execFileAsync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${join(probe, 'lower')},upperdir=${join(probe, 'upper')},workdir=${join(probe, 'work')}`, join(probe, 'merged')]);
    await gantryOk(t.root, ['prune', '--keep-cache']);
    assert.deepEqual(await mountsUnder(t.root), []);
    await assert.rejects(readdir(probe));
  });

  it('a build killed at any moment leaves the store consistent, and the next commands work', async () => {
    const context = await writeTree(join(t.work, 'killed'), {
      'big.bin': { content: Buffer.alloc(8 << 20, 7) },
      'Dockerfile': 'FROM busybox:latest\nCOPY big.bin /big.bin\nRUN head -c 4000000 /dev/urandom > /r1 && sleep 0.3\nRUN sleep 30\n',
    });
    for (const delay of [150, 400, 700, 1000, 1500]) {
      const child = spawn(process.execPath, [gantryBin, '--root', t.root, 'build', '--progress', 'plain', '--no-cache', context], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await sleep(delay);
      child.kill('SIGKILL');
      await exited;
      assert.doesNotMatch(stderr, /internal error/);
      await gantryOk(t.root, ['images']);
      await assertStoreConsistent(t.root);
    }
    // Killed in the middle of a RUN: its container, mounts and temporary files are left for prune (or the next build) to clean up.
    const child = spawn(process.execPath, [gantryBin, '--root', t.root, 'build', '--progress', 'plain', context], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const inRun = new Promise<void>((resolve) => child.stderr.on('data', (c: Buffer) => (stderr += c.toString()) && /RUN sleep 30\n#\d+ cache miss/.test(stderr) && resolve()));
    await inRun;
    await sleep(300);
    child.kill('SIGKILL');
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await gantryOk(t.root, ['images']);
    await gantryOk(t.root, ['prune', '--keep-cache']);
    await assertStoreConsistent(t.root);
    await assertNothingLeft(t.root);
    assert.deepEqual(await readdir(join(t.root, 'runtime-bundles')), [], 'the killed build\'s container bundle is gone');

    // Killed again, then a build cleans up after it.
    const again = spawn(process.execPath, [gantryBin, '--root', t.root, 'build', '--progress', 'plain', '--no-cache', context], { stdio: ['ignore', 'ignore', 'pipe'] });
    let againErr = '';
    await new Promise<void>((resolve) => again.stderr.on('data', (c: Buffer) => (againErr += c.toString()) && /RUN sleep 30\n#\d+ cache miss/.test(againErr) && resolve()));
    await sleep(300);
    again.kill('SIGKILL');
    await new Promise<void>((resolve) => again.once('exit', () => resolve()));
    const next = await writeTree(join(t.work, 'next'), { Dockerfile: 'FROM busybox:latest\nRUN echo after > /after.txt\n' });
    await build(t.root, next, ['-t', 'after:1', '--no-cache']);
    await assertStoreConsistent(t.root);
    await assertNothingLeft(t.root, false);
    await gantryOk(t.root, ['prune']);
    await assertStoreConsistent(t.root);
    await assertNothingLeft(t.root);
    const rootfs = await umociUnpack(t.root, 'after:1', join(t.work, 'after-bundle'));
    assert.equal(await readFile(join(rootfs, 'after.txt'), 'utf8'), 'after\n');
  });
});
