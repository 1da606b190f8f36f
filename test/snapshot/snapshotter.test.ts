/**
 * One test suite for every snapshot driver (containerd's snapshots testsuite is the model): prepare,
 * mount, commit and look up; layers stacked through parents with deletions; read-only views that are
 * never copies; changes in the form the layer diff needs; removal and what a killed process leaves;
 * snapshots of an earlier boot. Drivers that mount need root.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { changeEntries } from '../../src/snapshot/layer-codec.js';
import { mountsUnder } from '../../src/snapshot/mounts.js';
import { openAllSnapshotters, openSnapshotter, SNAPSHOTTER_NAMES, type ActiveSnapshot, type Snapshotter } from '../../src/snapshot/snapshotter.js';
import { sha256 } from '../../src/util/digest.js';
import { isRoot } from '../helpers/gantry.js';

const run = promisify(execFile);

/** The paths a layer made from `active` would hold, with whiteouts as `.wh.` names. */
async function changedPaths(active: ActiveSnapshot): Promise<string[]> {
  await active.unmount();
  const paths: string[] = [];
  for await (const entry of changeEntries(active.changes())) paths.push(entry.path);
  return paths.sort();
}

for (const driver of SNAPSHOTTER_NAMES) {
  describe(`snapshot driver ${driver}`, { skip: !isRoot && 'mounts need root' }, () => {
    let dir: string;
    let snapshotter: Snapshotter;
    const base = sha256(`${driver} base`);
    const top = sha256(`${driver} top`);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `gantry-snapshots-${driver}-`));
      snapshotter = await openSnapshotter(dir, driver);
      assert.equal(snapshotter.name, driver);
    });
    after(async () => {
      for (const point of await mountsUnder(dir)) await run('umount', ['-l', point]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });

    it('prepares an empty writable snapshot, mounts it, and commits it under a chain', async () => {
      const active = await snapshotter.prepare(undefined);
      const root = await active.mount();
      assert.deepEqual(await readdir(root), []);
      await mkdir(join(root, 'etc'));
      await writeFile(join(root, 'etc', 'base.txt'), 'base');
      await writeFile(join(root, 'gone.txt'), 'to be deleted');
      assert.deepEqual(await changedPaths(active), ['etc', 'etc/base.txt', 'gone.txt']);
      await active.commit(base);
      const id = await snapshotter.lookup(base);
      assert.ok(id, 'the chain finds its snapshot');
      assert.equal(await readFile(join(snapshotter.committedPath(id), 'etc', 'base.txt'), 'utf8'), 'base');
      assert.deepEqual(await mountsUnder(dir), [], 'commit unmounts');
    });

    it('stacks a snapshot on its parent; a deletion shows as a whiteout in its changes', async () => {
      const active = await snapshotter.prepare(base);
      const root = await active.mount();
      assert.equal(await readFile(join(root, 'etc', 'base.txt'), 'utf8'), 'base');
      await rm(join(root, 'gone.txt'));
      await writeFile(join(root, 'etc', 'top.txt'), 'top');
      assert.deepEqual(await changedPaths(active), ['.wh.gone.txt', 'etc', 'etc/top.txt']);
      await active.commit(top);
      assert.ok(await snapshotter.lookup(top));
    });

    it('gives read-only views of committed snapshots, which are never copies', async () => {
      const activeBefore = await readdir(join(dir, driver, 'active'));
      const view = await snapshotter.view(top);
      const root = await view.mount();
      assert.deepEqual(await readdir(join(dir, driver, 'active')), activeBefore, 'a view creates no writable snapshot');
      assert.deepEqual((await readdir(join(root, 'etc'))).sort(), ['base.txt', 'top.txt']);
      await assert.rejects(stat(join(root, 'gone.txt')), /ENOENT/);
      await assert.rejects(writeFile(join(root, 'new.txt'), 'x'), /EROFS/);
      await view.release();
      assert.deepEqual(await mountsUnder(dir), []);
      const empty = await snapshotter.view(undefined);
      assert.deepEqual(await readdir(await empty.mount()), []);
      await empty.release();
    });

    it('describes its mounts as data', async () => {
      const active = await snapshotter.prepare(top);
      const [mount] = active.mounts();
      assert.ok(mount);
      assert.equal(mount.type, driver === 'overlayfs' ? 'overlay' : 'bind');
      await active.remove();
      const view = await snapshotter.view(top);
      assert.ok(view.mounts().every((m) => m.type === 'bind' ? m.options.includes('ro') : !m.options.some((o) => o.startsWith('upperdir='))), 'a view mounts nothing writable');
    });

    it('removes a writable snapshot without a trace', async () => {
      const active = await snapshotter.prepare(top);
      await active.mount();
      await active.remove();
      assert.deepEqual(await readdir(join(dir, driver, 'active')), []);
      assert.deepEqual(await readdir(join(dir, driver, 'mnt')), []);
      assert.deepEqual(await mountsUnder(dir), []);
    });

    it('a second commit of a chain keeps the first', async () => {
      const first = await snapshotter.lookup(base);
      const again = await snapshotter.prepare(undefined);
      await again.commit(base);
      assert.equal(await snapshotter.lookup(base), first);
    });

    it('cleans up what a killed process left: its mounts and writable snapshots', async () => {
      // A child process prepares and mounts a snapshot, then dies without cleaning up.
      const script = `
        import { openSnapshotter } from ${JSON.stringify(new URL('../../src/snapshot/snapshotter.js', import.meta.url).href)};
        const s = await openSnapshotter(${JSON.stringify(dir)}, ${JSON.stringify(driver)});
        const a = await s.prepare(${JSON.stringify(top)});
        await a.mount();
        process.kill(process.pid, 'SIGKILL');`;
      await run(process.execPath, ['--input-type=module', '-e', script]).catch(() => undefined);
      assert.equal((await mountsUnder(dir)).length, 1, 'the dead process left its mount');
      await snapshotter.removeStale();
      assert.deepEqual(await mountsUnder(dir), []);
      assert.deepEqual(await readdir(join(dir, driver, 'active')), []);
      assert.deepEqual(await readdir(join(dir, driver, 'mnt')), []);
    });

    it('a snapshot written during an earlier boot reads as missing and is replaced', async () => {
      const chain = sha256(`${driver} earlier boot`);
      const active = await snapshotter.prepare(undefined);
      await writeFile(join(active.unpackDir, 'file'), 'one');
      await active.commit(chain);
      const id = await snapshotter.lookup(chain);
      assert.ok(id);
      // As if the machine restarted: the snapshot's data may not have reached the disk.
      await writeFile(join(dir, driver, 'committed', id, 'boot'), 'an-earlier-boot');
      const afterRestart = await openSnapshotter(dir, driver);
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
    });

    it('a writable snapshot that cannot be prepared on a full disk leaves nothing behind', async () => {
      const full = await mkdtemp(join(tmpdir(), `gantry-snapshots-full-${driver}-`));
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full]);
      try {
        const onFull = await openSnapshotter(full, driver);
        const seed = await onFull.prepare(undefined);
        await writeFile(join(seed.unpackDir, 'half.bin'), Buffer.alloc(400 * 1024));
        await seed.commit(base);
        const { bavail, bsize } = await statfs(full);
        // Room for the empty directories of a prepare, not for a copy of the parent.
        await run('fallocate', ['-l', String(Math.max(0, bavail * bsize - 64 * 1024)), join(full, 'filler')]);
        const attempt = onFull.prepare(base).then(async (active) => {
          // Overlay needs no copy: it succeeds; nothing to leave behind but itself.
          await active.remove();
          return 'prepared' as const;
        });
        const outcome = await attempt.catch((err: NodeJS.ErrnoException) => err);
        if (driver === 'native') assert.ok(outcome instanceof Error && /No space left|ENOSPC/.test(`${outcome.message} ${String((outcome as { cause?: unknown }).cause)}`), String(outcome));
        await rm(join(full, 'filler'));
        await run('fallocate', ['-l', String((await statfs(full)).bavail * (await statfs(full)).bsize), join(full, 'filler')]);
        await assert.rejects(onFull.prepare(undefined), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC');
        assert.deepEqual(await readdir(join(full, driver, 'active')), [], 'half-made snapshots are removed');
      } finally {
        await run('umount', [full]);
        await rm(full, { recursive: true, force: true });
      }
    });

    it('prune removes a committed snapshot and its chain', async () => {
      const id = await snapshotter.lookup(top);
      assert.ok(id);
      await snapshotter.removeCommitted(id, top);
      assert.equal(await snapshotter.lookup(top), undefined);
      assert.equal((await snapshotter.listCommitted()).has(id), false);
    });
  });
}

describe('the snapshotter factory', () => {
  it('GANTRY_SNAPSHOTTER chooses the driver; an unknown name is an error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-snapshots-env-'));
    const saved = process.env.GANTRY_SNAPSHOTTER;
    try {
      process.env.GANTRY_SNAPSHOTTER = 'native';
      assert.equal((await openSnapshotter(dir)).name, 'native');
      process.env.GANTRY_SNAPSHOTTER = 'zfs';
      await assert.rejects(openSnapshotter(dir), /GANTRY_SNAPSHOTTER=zfs is not a snapshotter/);
      assert.deepEqual((await openAllSnapshotters(dir)).map((s) => s.name), [...SNAPSHOTTER_NAMES]);
    } finally {
      if (saved === undefined) delete process.env.GANTRY_SNAPSHOTTER;
      else process.env.GANTRY_SNAPSHOTTER = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
