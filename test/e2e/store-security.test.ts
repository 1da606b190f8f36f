/**
 * The store against other users of the machine and against hostile images and Dockerfiles, through
 * the command line: a private store, digests that never become paths out of it, writes through an
 * image's dangling links that stay inside the image.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256 } from '../../src/util/digest.js';
import { gantry, gantryOk, isRoot } from '../helpers/gantry.js';
import { assertCleanError, build, busyboxRoot, execFileAsync, tarOf, type TestRoot, umociUnpack, writeTree } from './support.js';

describe('the store is private', { skip: !isRoot && 'needs root (another user is simulated with setpriv)' }, () => {
  let t: TestRoot;

  before(async () => {
    t = await busyboxRoot('e2e-store-private');
  });
  after(async () => t.cleanup());

  it('is created 0700, and a store left open is tightened by the next command', async () => {
    assert.equal((await stat(t.root)).mode & 0o777, 0o700);
    await chmod(t.root, 0o755);
    await gantryOk(t.root, ['images']);
    assert.equal((await stat(t.root)).mode & 0o777, 0o700);
  });

  it('another user can neither list it nor reach a setuid binary built into an image', async () => {
    const context = await writeTree(join(t.work, 'setuid'), { Dockerfile: 'FROM busybox:latest\nRUN cp /bin/busybox /idbin && chmod 4755 /idbin\n' });
    await build(t.root, context, ['-t', 'setuid:1']);
    const { stdout } = await execFileAsync('find', [join(t.root, 'snapshots'), '-name', 'idbin', '-perm', '-4000']);
    const binary = stdout.split('\n').find(Boolean);
    assert.ok(binary, 'the setuid binary is in a snapshot');
    // Through a shell: setpriv itself still holds root's capabilities when it executes its command.
    const asNobody = (args: string[]) =>
      execFileAsync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', '"$@"', 'sh', ...args]).then(
        () => 'allowed',
        (err: { stderr?: string }) => err.stderr ?? 'refused',
      );
    assert.match(await asNobody(['ls', t.root]), /Permission denied/);
    assert.match(await asNobody([binary, 'id', '-u']), /Permission denied/);
  });
});

describe('hostile images and Dockerfiles stay inside', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;

  before(async () => {
    t = await busyboxRoot('e2e-store-hostile');
  });
  after(async () => t.cleanup());

  it('an OCI layout whose config digest is a path to a host file is refused at load, and nothing is named', async () => {
    const layout = join(t.work, 'evil-layout');
    await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:../../../../../../../../etc/shadow', size: 10 },
        layers: [],
      }),
    );
    await writeFile(join(layout, 'blobs', 'sha256', sha256(manifest).slice(7)), manifest);
    await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const entry = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'evil' } };
    await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
    const tar = join(t.work, 'evil.tar');
    await execFileAsync('tar', ['-C', layout, '-cf', tar, '.']);

    const load = await gantry(t.root, ['load', tar]);
    assert.equal(load.code, 1);
    assertCleanError(load.stderr);
    assert.match(load.stderr, /invalid checksum digest format "sha256:\.\.\//);
    const inspect = await gantry(t.root, ['inspect', 'evil']);
    assert.notEqual(inspect.code, 0);
    assertCleanError(inspect.stderr);
    assert.doesNotMatch(inspect.stderr + inspect.stdout, /root:/);
  });

  it('import refuses a tar it cannot apply and names nothing, as docker import does', async () => {
    const good = await tarOf(0, [{ name: 'etc/', type: 'directory' }, { name: 'etc/hello', content: 'hello' }]);
    const corrupt = Buffer.from(good);
    corrupt[700] ^= 0xff; // inside the second header: its checksum no longer matches
    const escaping = await tarOf(0, [{ name: 'ok.txt', content: 'ok' }, { name: '../../escaped.txt', content: 'pwned' }]);
    for (const [name, bytes, pattern] of [['corrupt', corrupt, /checksum mismatch/], ['escaping', escaping, /escapes the layer root/]] as const) {
      const file = join(t.work, `${name}.tar`);
      await writeFile(file, bytes);
      const result = await gantry(t.root, ['import', file, `${name}:1`]);
      assert.equal(result.code, 1, result.stderr);
      assertCleanError(result.stderr);
      assert.match(result.stderr, new RegExp(`${name}\\.tar cannot be imported: .*${pattern.source}`));
      assert.doesNotMatch((await gantryOk(t.root, ['images'])).stdout, new RegExp(name));
    }
    await writeFile(join(t.work, 'good.tar'), good);
    await gantryOk(t.root, ['import', join(t.work, 'good.tar'), 'good:1']);
    assert.match((await gantryOk(t.root, ['images'])).stdout, /good/);
  });

  it('a damaged oci-layout file is written again; another layout version is refused', async () => {
    await writeFile(join(t.root, 'oci-layout'), '{"imageLayoutVers');
    await gantryOk(t.root, ['images']);
    assert.deepEqual(JSON.parse(await readFile(join(t.root, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    await writeFile(join(t.root, 'oci-layout'), '{"imageLayoutVersion":"9.9.9"}');
    const result = await gantry(t.root, ['images']);
    assertCleanError(result.stderr);
    assert.match(result.stderr, /unsupported version "9\.9\.9"/);
    await writeFile(join(t.root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  });

  it('COPY and WORKDIR through links to missing places create them inside the image, as BuildKit does', async () => {
    const context = await writeTree(join(t.work, 'dangling'), {
      f: 'copied\n',
      Dockerfile: ['FROM busybox:latest', 'RUN ln -s /made/by/copy /link && ln -s /made/by/workdir /wl', 'COPY f /link/x', 'WORKDIR /wl/sub', ''].join('\n'),
    });
    await build(t.root, context, ['-t', 'dangling:1']);
    const rootfs = await umociUnpack(t.root, 'dangling:1', join(t.work, 'dangling-bundle'));
    assert.equal(await readFile(join(rootfs, 'made/by/copy/x'), 'utf8'), 'copied\n');
    assert.ok((await stat(join(rootfs, 'made/by/workdir/sub'))).isDirectory());
    assert.equal((await stat(join(rootfs, 'made/by'))).mode & 0o777, 0o755);
    await assert.rejects(stat('/made'), /ENOENT/, 'nothing was created on the host');
  });
});
