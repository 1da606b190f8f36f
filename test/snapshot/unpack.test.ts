import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type LayerEntry, TypeFlag, opaqueWhiteoutEntry, whiteoutEntry } from '../../src/image/index.js';
import { treeDiffEntries, unpackLayer } from '../../src/snapshot/layer-codec.js';
import { readXattrTree } from '../../src/snapshot/fsops.js';
import { sha256 } from '../../src/util/digest.js';
import { GantryError } from '../../src/util/errors.js';
import { describeTree, rawTar, tarOf } from './tree.js';

const isRoot = process.getuid?.() === 0;
const needsRoot = isRoot ? {} : { skip: 'needs root: mknod, trusted.* xattrs and chown to other ids' };
const T = 1700000000;
const entry = (fields: Partial<LayerEntry> & Pick<LayerEntry, 'path' | 'type'>): LayerEntry => ({
  mode: fields.type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: T, ...fields,
});
const text = (path: string, content: string, extra: Partial<LayerEntry> = {}): LayerEntry =>
  entry({ path, type: 'file', size: Buffer.byteLength(content), source: { kind: 'buffer', data: Buffer.from(content) }, ...extra });

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'gantry-unpack-'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

async function freshRoot(name: string): Promise<string> {
  const root = join(base, name, 'root');
  await mkdir(root, { recursive: true });
  return root;
}

describe('unpack: hostile layers write nothing outside the root', () => {
  it('refuses ../ paths, naming the entry', async () => {
    const root = await freshRoot('dotdot');
    for (const name of ['../evil', 'a/../../evil', 'ok/..']) {
      await assert.rejects(unpackLayer([rawTar([{ name, content: 'x' }])], root, { mode: 'merged', layer: 'sha256:bad' }), (err: unknown) => {
        assert.ok(err instanceof GantryError);
        assert.match(err.message, /sha256:bad/);
        assert.ok(err.message.includes(name));
        return true;
      });
    }
    assert.deepEqual(await readdir(join(base, 'dotdot')), ['root']);
  });

  it('takes absolute paths relative to the root', async () => {
    const root = await freshRoot('absolute');
    const name = `gantry-abs-${randomBytes(6).toString('hex')}`;
    await unpackLayer([rawTar([{ name: `/${name}/file`, content: 'inside' }])], root, { mode: 'merged' });
    assert.equal(await readFile(join(root, name, 'file'), 'utf8'), 'inside');
    await assert.rejects(lstat(`/${name}`), { code: 'ENOENT' });
  });

  it('resolves entries under a symlink to / inside the root', async () => {
    const root = await freshRoot('symlink-root');
    const name = `gantry-escape-${randomBytes(6).toString('hex')}`;
    const tar = rawTar([
      { name: 'up', typeflag: TypeFlag.symlink, linkname: '/' },
      { name: 'dotdots', typeflag: TypeFlag.symlink, linkname: '../../../../..' },
      { name: `up/tmp/${name}`, content: 'via absolute link' },
      { name: `dotdots/${name}`, content: 'via relative link' },
    ]);
    await unpackLayer([tar], root, { mode: 'merged' });
    assert.equal(await readFile(join(root, 'tmp', name), 'utf8'), 'via absolute link');
    assert.equal(await readFile(join(root, name), 'utf8'), 'via relative link');
    await assert.rejects(lstat(join('/tmp', name)), { code: 'ENOENT' });
    await assert.rejects(lstat(join(base, name)), { code: 'ENOENT' });
    assert.equal((await lstat(join(root, 'up'))).isSymbolicLink(), true);
  });

  it('never writes through an entry that is itself a symlink', async () => {
    const root = await freshRoot('final-symlink');
    const outside = join(base, 'final-symlink', 'outside.txt');
    await writeFile(outside, 'untouched');
    await unpackLayer([rawTar([{ name: 'f', typeflag: TypeFlag.symlink, linkname: outside }, { name: 'f', content: 'replaced' }])], root, { mode: 'merged' });
    assert.equal(await readFile(outside, 'utf8'), 'untouched');
    assert.equal(await readFile(join(root, 'f'), 'utf8'), 'replaced');
  });

  it('refuses hardlinks to anything outside the root', async () => {
    const root = await freshRoot('hardlink');
    const outside = join(base, 'hardlink', 'secret');
    await writeFile(outside, 'secret');
    const cases = [
      [{ name: 'h', typeflag: TypeFlag.hardlink, linkname: '../secret' }],
      [{ name: 'h', typeflag: TypeFlag.hardlink, linkname: outside }],
      [{ name: 'up', typeflag: TypeFlag.symlink, linkname: '/' }, { name: 'h', typeflag: TypeFlag.hardlink, linkname: `up${outside}` }],
      [{ name: 'f', typeflag: TypeFlag.symlink, linkname: outside }, { name: 'h', typeflag: TypeFlag.hardlink, linkname: 'f' }],
    ];
    for (const entries of cases.slice(0, 3)) {
      await assert.rejects(unpackLayer([rawTar(entries)], root, { mode: 'merged' }), GantryError);
    }
    // A hardlink to a symlink links the symlink itself, never what it points at.
    await unpackLayer([rawTar(cases[3]!)], root, { mode: 'merged' });
    assert.equal((await lstat(join(root, 'h'))).isSymbolicLink(), true);
    assert.equal((await stat(outside)).nlink, 1);
  });

  it('never changes the mode of what a hardlinked symlink points at', async () => {
    for (const mode of ['merged', 'overlay'] as const) {
      const root = await freshRoot(`hardlinked-symlink-${mode}`);
      const outside = join(base, `hardlinked-symlink-${mode}`, 'host-file');
      await writeFile(outside, 'host');
      await chmod(outside, 0o644);
      const tar = rawTar([
        { name: 's', typeflag: TypeFlag.symlink, linkname: outside },
        { name: 'h', typeflag: TypeFlag.hardlink, linkname: 's', mode: 0o6777 },
      ]);
      await unpackLayer([tar], root, { mode });
      assert.equal((await stat(outside)).mode & 0o7777, 0o644, `${mode}: the host file's mode changed`);
      assert.equal((await lstat(join(root, 'h'))).isSymbolicLink(), true);
    }
  });

  it('refuses an owner that is no Linux user ID when it applies owners, naming it', async () => {
    const root = await freshRoot('owner-range');
    for (const uid of [2 ** 40, 0xffffffff]) {
      await assert.rejects(unpackLayer([rawTar([{ name: 'f', content: 'x', uid }])], root, { mode: 'merged', sameOwner: true, layer: 'sha256:owner' }), (err: unknown) => {
        assert.ok(err instanceof GantryError);
        assert.match(err.message, new RegExp(`layer sha256:owner: entry "f": its owner ${uid}:0 is not a Linux user and group ID`));
        return true;
      });
    }
  });

  it('quotes a name megabytes long in its error cut short', async () => {
    const root = await freshRoot('long-name');
    const name = `${'x'.repeat(1 << 20)}/../../escape`;
    await assert.rejects(unpackLayer([rawTar([{ name, content: 'x' }])], root, { mode: 'merged', layer: 'sha256:long' }), (err: unknown) => {
      assert.ok(err instanceof GantryError);
      assert.match(err.message, /^layer sha256:long: entry "x{200}…": the path escapes the layer root$/);
      return true;
    });
  });

  it('refuses malformed whiteouts and corrupt headers', async () => {
    const root = await freshRoot('malformed');
    await assert.rejects(unpackLayer([rawTar([{ name: 'a/.wh..' }])], root, { mode: 'merged' }), /invalid whiteout/);
    const tar = rawTar([{ name: 'file', content: 'x' }]);
    tar[10] = 0x41;
    await assert.rejects(unpackLayer([tar], root, { mode: 'merged', layer: 'sha256:c0ffee' }), /sha256:c0ffee.*checksum/);
  });
});

describe('unpack: whiteouts', () => {
  it('merged mode removes whited-out files and lower content of opaque directories', async () => {
    const root = await freshRoot('merged');
    for (const dir of ['a/sub', 'b', 'd']) await mkdir(join(root, dir), { recursive: true });
    for (const file of ['a/x', 'a/sub/y', 'b/z', 'c', 'd/old']) await writeFile(join(root, file), file);
    await symlink('/', join(root, 'up'));
    const tar = await tarOf([
      entry({ path: 'a', type: 'dir' }),
      opaqueWhiteoutEntry('a', 0o755, 0, 0),
      text('a/new', 'new'),
      whiteoutEntry('c'),
      entry({ path: 'd', type: 'dir' }),
      text('d/new', 'kept'),
      // An opaque marker after the directory's new entries still only hides lower content.
      opaqueWhiteoutEntry('d', 0o755, 0, 0),
      // A whiteout through a symlinked parent removes inside the root.
      whiteoutEntry('up/b'),
    ]);
    const result = await unpackLayer([tar], root, { mode: 'merged' });
    assert.equal(result.diffId, sha256(tar));
    assert.deepEqual((await readdir(root)).sort(), ['a', 'd', 'up']);
    assert.deepEqual(await readdir(join(root, 'a')), ['new']);
    assert.deepEqual(await readdir(join(root, 'd')), ['new']);
  });

  it('overlay mode writes whiteout devices and opaque xattrs', needsRoot, async () => {
    const root = await freshRoot('overlay');
    const tar = await tarOf([
      entry({ path: 'a', type: 'dir' }),
      opaqueWhiteoutEntry('a', 0o755, 0, 0),
      text('a/f', 'f'),
      whiteoutEntry('a/gone'),
      whiteoutEntry('top'),
    ]);
    await unpackLayer([tar], root, { mode: 'overlay' });
    for (const path of ['a/gone', 'top']) {
      const st = await lstat(join(root, path));
      assert.ok(st.isCharacterDevice());
      assert.equal(st.rdev, 0);
    }
    const xattrs = await readXattrTree(root);
    assert.equal(xattrs.get('a')?.get('trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(await readFile(join(root, 'a/f'), 'utf8'), 'f');
  });

  it('never applies overlay xattrs carried in a layer', needsRoot, async () => {
    const root = await freshRoot('overlay-xattr');
    const tar = await tarOf([entry({ path: 'd', type: 'dir', xattrs: new Map([['trusted.overlay.redirect', Buffer.from('/x')], ['user.kept', Buffer.from('1')]]) })]);
    await unpackLayer([tar], root, { mode: 'overlay' });
    const attrs = (await readXattrTree(root)).get('d');
    assert.equal(attrs?.has('trusted.overlay.redirect'), false);
    assert.equal(attrs?.get('user.kept')?.toString(), '1');
  });
});

describe('unpack: round trip and interoperability', () => {
  /** A tree with every kind of entry, odd modes and owners, xattrs and hardlinks. */
  async function buildTree(root: string): Promise<void> {
    await mkdir(join(root, 'etc/sub'), { recursive: true });
    await mkdir(join(root, 'tmp'));
    await mkdir(join(root, 'shared'));
    await writeFile(join(root, 'etc/hello'), 'hello world\n');
    await writeFile(join(root, 'etc/empty'), '');
    await writeFile(join(root, 'etc/sub/big'), randomBytes(700_000));
    await writeFile(join(root, `etc/${'long-name-'.repeat(15)}`), 'long');
    await writeFile(join(root, 'etc/ünïcödé'), 'unicode');
    await writeFile(join(root, 'ping'), 'binary');
    await link(join(root, 'etc/hello'), join(root, 'shared/hello-link'));
    await symlink('../etc/hello', join(root, 'shared/rel-link'));
    await symlink('/nonexistent/target', join(root, 'shared/dangling'));
    execFileSync('mkfifo', [join(root, 'shared/fifo')]);
    execFileSync('mknod', [join(root, 'shared/null'), 'c', '1', '3']);
    execFileSync('mknod', [join(root, 'shared/disk'), 'b', '8', '1']);
    await chown(join(root, 'etc/hello'), 1234, 5678);
    await chown(join(root, 'shared'), 1000, 1000);
    await chown(join(root, 'ping'), 0, 0);
    await chmod(join(root, 'ping'), 0o4755);
    await chmod(join(root, 'tmp'), 0o1777);
    await chmod(join(root, 'shared'), 0o2775);
    execFileSync('setfattr', ['-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', join(root, 'ping')]);
    execFileSync('setfattr', ['-n', 'user.note', '-v', 'a note', join(root, 'etc/hello')]);
    execFileSync('setfattr', ['-n', 'trusted.mark', '-v', '0x00ff', join(root, 'etc/sub')]);
    for (const path of ['etc/hello', 'etc/sub/big', 'ping', 'etc/sub', 'etc', 'tmp', 'shared']) {
      await utimes(join(root, path), T - 100, T - 100);
    }
  }

  async function roundTrip(name: string, mode: 'overlay' | 'merged'): Promise<void> {
    const source = join(base, name, 'source');
    const empty = join(base, name, 'empty');
    await mkdir(source, { recursive: true });
    await mkdir(empty);
    await buildTree(source);
    const entries: LayerEntry[] = [];
    for await (const item of treeDiffEntries(empty, source)) entries.push(item);
    const tar = await tarOf(entries);
    const target = await freshRoot(`${name}-target`);
    const result = await unpackLayer([tar.subarray(0, 5000), tar.subarray(5000)], target, { mode });
    assert.equal(result.diffId, sha256(tar));
    assert.equal(result.size, tar.length);
    assert.deepEqual(await describeTree(target), await describeTree(source));
  }

  it('tree → entries → tar → merged unpack gives the same tree', needsRoot, () => roundTrip('rt-merged', 'merged'));
  it('tree → entries → tar → overlay unpack gives the same tree', needsRoot, () => roundTrip('rt-overlay', 'overlay'));

  it('unpacks PAX archives written by GNU tar', needsRoot, async () => {
    const source = join(base, 'gnu', 'source');
    await mkdir(source, { recursive: true });
    await buildTree(source);
    const tar = execFileSync('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-C', source, '-cf', '-', '.'], { maxBuffer: 64 << 20 });
    const target = await freshRoot('gnu-target');
    await unpackLayer([tar], target, { mode: 'merged' });
    assert.deepEqual(await describeTree(target), await describeTree(source));
  });

  it('hashes every byte read, including what follows the end blocks', async () => {
    const tar = Buffer.concat([await tarOf([text('f', 'content')]), Buffer.alloc(9216)]);
    const result = await unpackLayer([tar], await freshRoot('trailing'), { mode: 'merged' });
    assert.equal(result.diffId, sha256(tar));
    assert.equal(result.size, tar.length);
  });
});
