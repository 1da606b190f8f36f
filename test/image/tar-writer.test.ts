import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type LayerEntry, TarReader, TypeFlag, layerTarChunks, whiteoutEntry, opaqueWhiteoutEntry } from '../../src/image/index.js';
import { GantryError } from '../../src/util/errors.js';

async function tarBytes(entries: LayerEntry[], options = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of layerTarChunks(entries, options)) parts.push(chunk);
  return Buffer.concat(parts);
}

async function readBack(tar: Buffer) {
  const reader = new TarReader([tar], 'test');
  const out = [];
  for (let header = await reader.next(); header; header = await reader.next()) {
    const body: Buffer[] = [];
    for await (const chunk of reader.body()) body.push(chunk);
    out.push({ header, body: Buffer.concat(body) });
  }
  await reader.finish();
  return out;
}

const T = 1700000000;
const fromText = (text: string) => ({ kind: 'buffer' as const, data: Buffer.from(text) });
const entry = (fields: Partial<LayerEntry> & Pick<LayerEntry, 'path' | 'type' | 'mode'>): LayerEntry => ({ uid: 0, gid: 0, size: 0, mtime: T, ...fields });
const capability = Buffer.from([1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** The entries test/image/fixtures/go-tar-golden.go writes with Go's archive/tar. */
const goldenEntries: LayerEntry[] = [
  entry({ path: 'etc', type: 'dir', mode: 0o755 }),
  entry({ path: 'etc/hello.txt', type: 'file', mode: 0o644, uid: 1000, gid: 1000, size: 6, source: fromText('hello\n') }),
  entry({ path: 'etc/suid', type: 'file', mode: 0o7755, size: 3, source: fromText('abc') }),
  entry({ path: 'etc/hard', type: 'hardlink', mode: 0o644, uid: 1000, gid: 1000, linkTarget: 'etc/hello.txt' }),
  entry({ path: 'etc/sym', type: 'symlink', mode: 0o777, linkTarget: '../usr/lib/os-release' }),
  entry({ path: `etc/${'x'.repeat(120)}`, type: 'file', mode: 0o644 }),
  entry({ path: `etc/${'y'.repeat(60)}/${'z'.repeat(60)}`, type: 'dir', mode: 0o755 }),
  entry({ path: `etc/${'d'.repeat(130)}`, type: 'dir', mode: 0o755 }),
  entry({ path: 'etc/longlink', type: 'symlink', mode: 0o777, linkTarget: 'l/'.repeat(70) }),
  entry({ path: 'etc/ünïcode', type: 'file', mode: 0o644 }),
  entry({ path: 'etc/bigid', type: 'file', mode: 0o644, uid: 3000000, gid: 2097152 }),
  entry({
    path: 'usr/bin/ping', type: 'file', mode: 0o755, size: 4, source: fromText('ping'),
    xattrs: new Map([['security.capability', capability], ['user.note', Buffer.from('n=1')]]),
  }),
  entry({ path: 'dev/null', type: 'char', mode: 0o666, devMajor: 1, devMinor: 3 }),
  entry({ path: 'dev/sda', type: 'block', mode: 0o660, gid: 6, devMajor: 8, devMinor: 0 }),
  entry({ path: 'run/fifo', type: 'fifo', mode: 0o600, mtime: 5 }),
  whiteoutEntry('etc/removed'),
  whiteoutEntry('etc/ŝtraße'),
];

describe('layer tar writer', () => {
  it('writes the same bytes as Go archive/tar does for containerd-style headers', async () => {
    const golden = await readFile(join(process.cwd(), 'test/image/fixtures/go-archive-tar.tar'));
    assert.ok((await tarBytes(goldenEntries)).equals(golden));
  });

  it('is deterministic, and file sources give the same bytes as buffers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-tar-'));
    try {
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, 0x61);
      await writeFile(join(dir, 'big'), big);
      await writeFile(join(dir, 'small'), 'small content');
      const fromDisk = [
        entry({ path: 'big', type: 'file', mode: 0o644, size: big.length, source: { kind: 'path', path: join(dir, 'big') } }),
        entry({ path: 'small', type: 'file', mode: 0o644, size: 13, source: { kind: 'path', path: join(dir, 'small') } }),
      ];
      const fromMemory = [
        entry({ path: 'big', type: 'file', mode: 0o644, size: big.length, source: { kind: 'buffer', data: big } }),
        entry({ path: 'small', type: 'file', mode: 0o644, size: 13, source: fromText('small content') }),
      ];
      const first = await tarBytes(fromDisk);
      assert.ok(first.equals(await tarBytes(fromDisk)));
      assert.ok(first.equals(await tarBytes(fromMemory)));
      assert.equal(first.length % 512, 0);
      assert.ok(first.subarray(first.length - 1024).every((byte) => byte === 0));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('uses PAX records only when a header needs them', async () => {
    const tar = await tarBytes([
      entry({ path: 'plain', type: 'file', mode: 0o644 }),
      entry({ path: `${'p'.repeat(90)}/${'q'.repeat(90)}`, type: 'file', mode: 0o644 }),
      entry({ path: 'a'.repeat(200), type: 'file', mode: 0o644 }),
      entry({ path: 'caps', type: 'file', mode: 0o755, xattrs: new Map([['security.capability', capability]]) }),
    ]);
    const typeflags: string[] = [];
    for (let offset = 0; offset < tar.length - 1024; offset += 512) {
      const flag = tar[offset + 156]!;
      typeflags.push(String.fromCharCode(flag));
      if (flag === TypeFlag.paxLocal) offset += Math.ceil(parseInt(tar.toString('latin1', offset + 124, offset + 135), 8) / 512) * 512;
    }
    // plain: USTAR; splittable long name: USTAR prefix; unsplittable: PAX path; xattr: PAX.
    assert.deepEqual(typeflags, ['0', '0', 'x', '0', 'x', '0']);
    assert.ok(!tar.includes(Buffer.from('uname')) && !tar.includes(Buffer.from('atime')) && !tar.includes(Buffer.from('ctime')));
    const back = await readBack(tar);
    assert.deepEqual(back.map((e) => e.header.name), ['plain', `${'p'.repeat(90)}/${'q'.repeat(90)}`, 'a'.repeat(200), 'caps']);
    assert.ok(back[3]!.header.xattrs.get('security.capability')!.equals(capability));
  });

  it('clamps mtimes to sourceDateEpoch and keeps whole seconds', async () => {
    const tar = await tarBytes(
      [
        entry({ path: 'new', type: 'file', mode: 0o644, mtime: T + 0.75 }),
        entry({ path: 'old', type: 'file', mode: 0o644, mtime: 1000.9 }),
      ],
      { sourceDateEpoch: 1600000000 },
    );
    const back = await readBack(tar);
    assert.deepEqual(back.map((e) => e.header.mtime), [1600000000, 1000]);
  });

  it('writes hardlinks as tar links without content, directories with a trailing slash', async () => {
    const tar = await tarBytes([
      entry({ path: 'd', type: 'dir', mode: 0o755 }),
      entry({ path: 'd/f', type: 'file', mode: 0o644, size: 2, source: fromText('hi') }),
      entry({ path: 'd/g', type: 'hardlink', mode: 0o644, size: 2, linkTarget: 'd/f' }),
    ]);
    assert.equal(tar.toString('latin1', 0, 2), 'd/');
    const back = await readBack(tar);
    assert.equal(back[2]!.header.typeflag, TypeFlag.hardlink);
    assert.equal(back[2]!.header.linkname, 'd/f');
    assert.equal(back[2]!.header.size, 0);
    assert.equal(back[1]!.body.toString(), 'hi');
  });

  it('writes whiteouts as empty root-owned files', async () => {
    const back = await readBack(await tarBytes([opaqueWhiteoutEntry('var/cache', 0o755, 5, 6), whiteoutEntry('var/log')]));
    assert.deepEqual(
      back.map(({ header }) => [header.name, header.typeflag, header.mode, header.uid, header.mtime]),
      [
        ['var/cache/.wh..wh..opq', TypeFlag.file, 0o755, 5, 0],
        ['var/.wh.log', TypeFlag.file, 0, 0, 0],
      ],
    );
  });

  it('is read by GNU tar', async () => {
    const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: await tarBytes(goldenEntries) }).toString();
    assert.match(listing, /-rwsr-sr-t 0\/0 +3 .* etc\/suid/);
    assert.match(listing, /etc\/hard link to etc\/hello.txt/);
    assert.match(listing, /crw-rw-rw- 0\/0 +1,3 .* dev\/null/);
    assert.match(listing, new RegExp(`etc/${'d'.repeat(130)}/`));
  });

  it('refuses unclean paths and a file that changed size', async () => {
    await assert.rejects(tarBytes([entry({ path: '../evil', type: 'file', mode: 0o644 })]), GantryError);
    await assert.rejects(tarBytes([entry({ path: '/abs', type: 'file', mode: 0o644 })]), GantryError);
    await assert.rejects(tarBytes([entry({ path: 'f', type: 'file', mode: 0o644, size: 5, source: fromText('four') })]), GantryError);
    const dir = await mkdtemp(join(tmpdir(), 'gantry-tar-'));
    try {
      await writeFile(join(dir, 'f'), 'grown since the stat');
      await assert.rejects(
        tarBytes([entry({ path: 'f', type: 'file', mode: 0o644, size: 4, source: { kind: 'path', path: join(dir, 'f') } })]),
        /changed size/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
