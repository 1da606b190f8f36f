/**
 * The bookkeeping every snapshot driver shares: committed snapshots keyed by layer chain ID, writable
 * snapshots in progress, their mount points, and what killed processes left behind.
 *
 * Snapshot files are written without fsync (overlay upper dirs are mounted `volatile`, so unmounting
 * does not flush the whole filesystem), which is safe because a snapshot is only trusted during the
 * boot that wrote it: each records the kernel's boot id, and after a restart every older snapshot
 * reads as missing and is unpacked again from its layer blob, which the content store did fsync.
 *
 * Layout under <store>/snapshots/<driver>/:
 *   committed/<id>/{fs,parent,boot}   by-chain/<chain hex> → ../committed/<id>   empty/
 *   active/<pid>-<rand>/{fs,work,parent,boot}   mnt/<pid>-<rand>/   (owned by a live process, or stale)
 * A commit renames the active directory into committed/ and then links the chain to it; a process
 * killed between the two leaves a committed snapshot no chain points to, which prune removes.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, readlink, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, type Digest, errnoCode, GantryError, ownerIsDead } from '../util/index.js';
import { mountsUnder, unmount } from './mounts.js';

/** A writable snapshot's directory, before it is mounted. */
export interface ActiveDir {
  /** `<pid>-<rand>`: names its directory and its mount point. */
  name: string;
  dir: string;
  /** The committed snapshot it starts from. */
  parentId: string | undefined;
}

export class CommittedSnapshots {
  readonly committedDir: string;
  private readonly byChainDir: string;
  private readonly activeDir: string;
  readonly mntDir: string;
  private readonly parentCache = new Map<string, string | undefined>();
  /** Committed snapshot ids known to have been written during this boot. */
  private readonly fromThisBoot = new Set<string>();

  private constructor(
    readonly base: string,
    private readonly bootId: string,
  ) {
    this.committedDir = join(base, 'committed');
    this.byChainDir = join(base, 'by-chain');
    this.activeDir = join(base, 'active');
    this.mntDir = join(base, 'mnt');
  }

  static async open(base: string): Promise<CommittedSnapshots> {
    const snapshots = new CommittedSnapshots(base, await currentBootId());
    await Promise.all([snapshots.committedDir, snapshots.byChainDir, snapshots.activeDir, snapshots.mntDir].map((d) => mkdir(d, { recursive: true })));
    return snapshots;
  }

  /** The committed snapshot id for a chain, if present and written during this boot. */
  async lookup(chainId: Digest): Promise<string | undefined> {
    let id: string;
    try {
      id = (await readlink(join(this.byChainDir, digestHex(chainId)))).split('/').pop() as string;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    return (await this.isFromThisBoot(id)) ? id : undefined;
  }

  /** The committed snapshot for `chainId` (undefined: no parent); its absence is an error. */
  async require(chainId: Digest | undefined): Promise<string | undefined> {
    if (!chainId) return undefined;
    const id = await this.lookup(chainId);
    if (!id) throw new Error(`snapshot for ${chainId} is missing`);
    return id;
  }

  /** Whether a committed snapshot was written during this boot (older ones may have lost unflushed data). */
  async isFromThisBoot(id: string): Promise<boolean> {
    if (this.fromThisBoot.has(id)) return true;
    const boot = await readFile(join(this.committedDir, id, 'boot'), 'utf8').catch(() => '');
    if (boot.trim() !== this.bootId) return false;
    this.fromThisBoot.add(id);
    return true;
  }

  /** A new writable snapshot directory (fs/ and work/) owned by this process. */
  async createActive(parentId: string | undefined): Promise<ActiveDir> {
    const name = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const dir = join(this.activeDir, name);
    try {
      await mkdir(join(dir, 'fs'), { recursive: true });
      await mkdir(join(dir, 'work'));
      await writeFile(join(dir, 'parent'), parentId ?? '');
      await writeFile(join(dir, 'boot'), this.bootId);
    } catch (err) {
      // A full disk fails this half-way; no one else would remove what was made (its owner lives on).
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return { name, dir, parentId };
  }

  /** An empty directory that nothing writes to: the lower layer of a snapshot without parents. */
  async emptyDir(): Promise<string> {
    const dir = join(this.base, 'empty');
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Where a writable snapshot (or a view) of this process is mounted. */
  mountPoint(name: string): string {
    return join(this.mntDir, name);
  }

  /** A mount point for a read-only view, named like an active snapshot so stale ones are found the same way. */
  async createViewPoint(): Promise<string> {
    const point = this.mountPoint(`${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(point, { recursive: true });
    return point;
  }

  async releaseMountPoint(point: string): Promise<void> {
    await unmount(point);
    await rmdir(point).catch(() => undefined);
  }

  /** Snapshot ids from `id` down to the bottom layer. */
  async chainIds(id: string): Promise<string[]> {
    const ids: string[] = [];
    let current: string | undefined = id;
    while (current) {
      ids.push(current);
      current = await this.parentOf(current);
    }
    return ids;
  }

  private async parentOf(id: string): Promise<string | undefined> {
    if (!this.parentCache.has(id)) {
      const text = (await readFile(join(this.committedDir, id, 'parent'), 'utf8')).trim();
      this.parentCache.set(id, text === '' ? undefined : text);
    }
    return this.parentCache.get(id);
  }

  /** Publishes an active snapshot as the one for `chainId`; if another process got there first, theirs is kept. */
  async commit(active: ActiveDir, chainId: Digest): Promise<void> {
    const link = join(this.byChainDir, digestHex(chainId));
    if (await this.lookup(chainId)) {
      await rm(active.dir, { recursive: true, force: true });
      return;
    }
    const id = randomBytes(6).toString('hex');
    await rm(join(active.dir, 'work'), { recursive: true, force: true });
    await rename(active.dir, join(this.committedDir, id));
    this.fromThisBoot.add(id);
    try {
      await symlink(`../committed/${id}`, link);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      if (await this.lookup(chainId)) {
        // Another build committed the same chain meanwhile: keep theirs.
        await rm(join(this.committedDir, id), { recursive: true, force: true });
        return;
      }
      // The link points at a snapshot of an earlier boot: replace it (the old one is left for prune).
      const temporary = `${link}.${process.pid}-${randomBytes(4).toString('hex')}`;
      await symlink(`../committed/${id}`, temporary);
      await rename(temporary, link);
    }
  }

  committedPath(id: string): string {
    return join(this.committedDir, id, 'fs');
  }

  /**
   * Unmounts and removes what gantry processes that no longer exist left behind: mounts, writable
   * snapshots, and committed snapshots no chain points to (a commit interrupted between its two renames).
   */
  async removeStale(): Promise<void> {
    for (const point of await mountsUnder(this.mntDir)) {
      const name = point.slice(this.mntDir.length + 1);
      if (ownerIsDead(name, '')) await unmount(point).catch(() => undefined);
    }
    for (const name of await readdir(this.mntDir)) {
      if (ownerIsDead(name, '')) await rmdir(join(this.mntDir, name)).catch(() => undefined);
    }
    for (const name of await readdir(this.activeDir)) {
      if (ownerIsDead(name, '')) await rm(join(this.activeDir, name), { recursive: true, force: true });
    }
  }

  /** Committed snapshot ids and the chains that point to them. */
  async listCommitted(): Promise<Map<string, Digest | undefined>> {
    const result = new Map<string, Digest | undefined>();
    for (const id of await readdir(this.committedDir)) result.set(id, undefined);
    for (const hex of await readdir(this.byChainDir)) {
      // A link being replaced has a temporary name; it is gone once its process finishes.
      if (!/^[a-f0-9]{64}$/.test(hex)) continue;
      const id = (await readlink(join(this.byChainDir, hex))).split('/').pop() as string;
      if (result.has(id)) result.set(id, `sha256:${hex}`);
    }
    return result;
  }

  /** Removes a committed snapshot and its chain link (prune, in the store's only session). */
  async removeCommitted(id: string, chainId: Digest | undefined): Promise<void> {
    if (chainId) await rm(join(this.byChainDir, digestHex(chainId)), { force: true });
    await rm(join(this.committedDir, id), { recursive: true, force: true });
    this.parentCache.delete(id);
  }
}

async function currentBootId(): Promise<string> {
  const id = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '');
  if (id.trim() === '') throw new GantryError('cannot read the kernel boot id (/proc/sys/kernel/random/boot_id)', { hint: 'gantry needs /proc mounted' });
  return id.trim();
}
