import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Snapshotter } from '../../src/snapshot/snapshotter.js';
import { sha256 } from '../../src/util/digest.js';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

test('a snapshot written during an earlier boot reads as missing and is replaced', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-snapshots-'));
  try {
    const chain = sha256('layer one');
    const first = await Snapshotter.open(dir, 'native');
    const active = await first.prepare(undefined);
    await writeFile(join(active.unpackDir, 'file'), 'one');
    await active.commit(chain);
    const id = await first.lookup(chain);
    assert.ok(id);
    assert.equal(await readFile(join(first.committedPath(id), 'file'), 'utf8'), 'one');

    // As if the machine restarted: the snapshot's data may not have reached the disk.
    await writeFile(join(dir, 'native', 'committed', id, 'boot'), 'an-earlier-boot');
    const afterRestart = await Snapshotter.open(dir, 'native');
    assert.equal(await afterRestart.lookup(chain), undefined);

    const again = await afterRestart.prepare(undefined);
    await writeFile(join(again.unpackDir, 'file'), 'one');
    await again.commit(chain);
    const replaced = await afterRestart.lookup(chain);
    assert.ok(replaced && replaced !== id, 'the chain now points at the snapshot of this boot');
    const listed = await afterRestart.listCommitted();
    assert.equal(listed.get(replaced), chain);
    assert.equal(listed.get(id), undefined, 'the old one is left for prune, pointed at by nothing');
    assert.equal(await afterRestart.isFromThisBoot(id), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a writable snapshot that cannot be prepared on a full disk leaves nothing behind', { skip: process.getuid?.() !== 0 && 'mounts a tmpfs (needs root)' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-snapshots-full-'));
  await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
  try {
    const snapshotter = await Snapshotter.open(dir, 'native');
    const { bavail, bsize } = await statfs(dir);
    await execFileAsync('fallocate', ['-l', String(bavail * bsize), join(dir, 'filler')]);
    await assert.rejects(snapshotter.prepare(undefined), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC');
    assert.deepEqual(await readdir(join(dir, 'native', 'active')), [], 'the half-made snapshot is removed');
  } finally {
    await execFileAsync('umount', [dir]);
    await rm(dir, { recursive: true, force: true });
  }
});
