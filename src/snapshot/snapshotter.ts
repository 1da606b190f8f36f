/**
 * Snapshots of root filesystems, keyed by layer chain ID (containerd-style Prepare/Commit/Mount).
 *
 * overlayfs: each committed snapshot holds only its layer's changes (overlay format: whiteouts are
 * 0/0 char devices, opaque dirs carry trusted.overlay.opaque); a writable snapshot is an empty upper
 * dir mounted over its parents, and its upper dir is the next layer's content, so committing never
 * copies. native: each snapshot is a full copy of its parent plus changes, found by a tree diff; used
 * where overlay cannot be mounted.
 *
 * Snapshot files are written without fsync (overlay upper dirs are mounted `volatile`, so unmounting
 * does not flush the whole filesystem), which is safe because a snapshot is only trusted during the
 * boot that wrote it: each records the kernel's boot id, and after a restart every older snapshot
 * reads as missing and is unpacked again from its layer blob, which the content store did fsync.
 *
 * Layout under <store>/snapshots/<driver>/:
 *   committed/<id>/{fs,work,parent,boot}   by-chain/<chain hex> → ../committed/<id>
 *   active/<pid>-<rand>/...            mnt/<pid>-<rand>/   (owned by a live process, or stale)
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, readlink, rename, rm, rmdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { release } from 'node:os';
import { writeFileAtomic } from '../util/fs.js';
import { digestHex, type Digest } from '../util/digest.js';
import { errnoCode, GantryError } from '../util/errors.js';
import { ownerIsDead } from '../util/process.js';
import { copyTreePreserving } from '../util/copy-tree.js';
import { mountOverlay, mountsUnder, unmount } from './mounts.js';
import { runTool, tryTool } from '../util/run-tool.js';

export type SnapshotterName = 'overlayfs' | 'native';

/** What a writable snapshot changed, in the form the layer diff needs. */
export type SnapshotChanges =
  | { kind: 'overlay-upper'; upperDir: string }
  | { kind: 'tree'; lowerDir: string | undefined; upperDir: string; copiedAtNs?: bigint };

export interface ActiveSnapshot {
  /** Directory a layer tar is unpacked into (no mount needed), with the unpack mode it needs. */
  readonly unpackDir: string;
  readonly unpackMode: 'overlay' | 'merged';
  /** Mounts the full root filesystem and returns its path. */
  mount(): Promise<string>;
  unmount(): Promise<void>;
  changes(): SnapshotChanges;
  /** Publishes this snapshot as the one for `chainId`; if another process got there first, theirs is kept. */
  commit(chainId: Digest): Promise<void>;
  remove(): Promise<void>;
}

export class Snapshotter {
  private readonly committedDir: string;
  private readonly byChainDir: string;
  private readonly activeDir: string;
  private readonly mntDir: string;
  private readonly parentCache = new Map<string, string | undefined>();
  /** Committed snapshot ids known to have been written during this boot. */
  private readonly fromThisBoot = new Set<string>();

  private constructor(
    readonly name: SnapshotterName,
    base: string,
    private readonly bootId: string,
  ) {
    this.committedDir = join(base, 'committed');
    this.byChainDir = join(base, 'by-chain');
    this.activeDir = join(base, 'active');
    this.mntDir = join(base, 'mnt');
  }

  /** Opens the snapshotter `preferred` names, or the best one this machine supports. */
  static async open(snapshotsDir: string, preferred?: SnapshotterName): Promise<Snapshotter> {
    await removeStaleProbes(snapshotsDir);
    const name = preferred ?? snapshotterFromEnvironment() ?? (await probedSnapshotter(snapshotsDir));
    const snapshotter = new Snapshotter(name, join(snapshotsDir, name), await currentBootId());
    await Promise.all([snapshotter.committedDir, snapshotter.byChainDir, snapshotter.activeDir, snapshotter.mntDir].map((d) => mkdir(d, { recursive: true })));
    return snapshotter;
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

  /** Whether a committed snapshot was written during this boot (older ones may have lost unflushed data). */
  async isFromThisBoot(id: string): Promise<boolean> {
    if (this.fromThisBoot.has(id)) return true;
    const boot = await readFile(join(this.committedDir, id, 'boot'), 'utf8').catch(() => '');
    if (boot.trim() !== this.bootId) return false;
    this.fromThisBoot.add(id);
    return true;
  }

  async prepare(parentChainId: Digest | undefined): Promise<ActiveSnapshot> {
    const parentId = parentChainId ? await this.lookup(parentChainId) : undefined;
    if (parentChainId && !parentId) throw new Error(`snapshot for ${parentChainId} is missing`);
    const activeName = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const dir = join(this.activeDir, activeName);
    let copiedAtNs: bigint | undefined;
    try {
      await mkdir(join(dir, 'fs'), { recursive: true });
      await mkdir(join(dir, 'work'));
      await writeFile(join(dir, 'parent'), parentId ?? '');
      await writeFile(join(dir, 'boot'), this.bootId);
      if (this.name === 'native' && parentId) {
        await copyTreePreserving(join(this.committedDir, parentId, 'fs'), join(dir, 'fs'), 'copying the parent snapshot');
        // Lets the tree diff skip reading files not written since the copy (their ctime is older).
        copiedAtNs = BigInt(Date.now()) * 1_000_000n;
      }
    } catch (err) {
      // A full disk fails this half-way; no one else would remove what was made (its owner lives on).
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    const lowers = this.name === 'overlayfs' && parentId ? await this.chainIds(parentId) : [];
    return new Active(this, activeName, dir, parentId, lowers, copiedAtNs);
  }

  /** Snapshot ids from `id` down to the bottom layer. */
  private async chainIds(id: string): Promise<string[]> {
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

  /** @internal used by Active */
  async mountActive(activeName: string, dir: string, lowers: string[]): Promise<string> {
    const target = join(this.mntDir, activeName);
    await mkdir(target, { recursive: true });
    if (this.name === 'native') {
      await runTool('mount', ['--bind', join(dir, 'fs'), target], 'bind-mounting a snapshot', { package: 'mount' });
      return target;
    }
    if (lowers.length === 0) {
      // overlay needs at least one lower dir: an empty one stands for "no parent".
      await mkdir(join(dir, 'empty'), { recursive: true });
      await mountOverlay(target, [`../active/${activeName}/empty`], join(dir, 'fs'), join(dir, 'work'), this.committedDir);
    } else {
      await mountOverlay(target, lowers.map((id) => `${id}/fs`), join(dir, 'fs'), join(dir, 'work'), this.committedDir);
    }
    return target;
  }

  /** @internal */
  async unmountActive(activeName: string): Promise<void> {
    const target = join(this.mntDir, activeName);
    await unmount(target);
    await rmdir(target).catch(() => undefined);
  }

  /** @internal */
  async commitActive(dir: string, chainId: Digest): Promise<void> {
    const link = join(this.byChainDir, digestHex(chainId));
    if (await this.lookup(chainId)) {
      await rm(dir, { recursive: true, force: true });
      return;
    }
    const id = randomBytes(6).toString('hex');
    await rm(join(dir, 'work'), { recursive: true, force: true });
    await rm(join(dir, 'empty'), { recursive: true, force: true });
    await rename(dir, join(this.committedDir, id));
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

  /** Removes a committed snapshot and its chain link (prune; callers hold the store's GC lock). */
  async removeCommitted(id: string, chainId: Digest | undefined): Promise<void> {
    if (chainId) await rm(join(this.byChainDir, digestHex(chainId)), { force: true });
    await rm(join(this.committedDir, id), { recursive: true, force: true });
    this.parentCache.delete(id);
  }

  /** The parent id recorded for a committed snapshot (for prune's reachability walk). */
  async parentOfCommitted(id: string): Promise<string | undefined> {
    return this.parentOf(id);
  }
}

class Active implements ActiveSnapshot {
  private mountedAt: string | undefined;

  constructor(
    private readonly owner: Snapshotter,
    private readonly activeName: string,
    private readonly dir: string,
    private readonly parentId: string | undefined,
    private readonly lowers: string[],
    private readonly copiedAtNs: bigint | undefined,
  ) {}

  get unpackDir(): string {
    return join(this.dir, 'fs');
  }

  get unpackMode(): 'overlay' | 'merged' {
    return this.owner.name === 'overlayfs' ? 'overlay' : 'merged';
  }

  async mount(): Promise<string> {
    if (!this.mountedAt) this.mountedAt = await this.owner.mountActive(this.activeName, this.dir, this.lowers);
    return this.mountedAt;
  }

  async unmount(): Promise<void> {
    if (!this.mountedAt) return;
    this.mountedAt = undefined;
    await this.owner.unmountActive(this.activeName);
  }

  changes(): SnapshotChanges {
    if (this.owner.name === 'overlayfs') return { kind: 'overlay-upper', upperDir: join(this.dir, 'fs') };
    return { kind: 'tree', lowerDir: this.parentId ? this.owner.committedPath(this.parentId) : undefined, upperDir: join(this.dir, 'fs'), copiedAtNs: this.copiedAtNs };
  }

  async commit(chainId: Digest): Promise<void> {
    await this.unmount();
    await this.owner.commitActive(this.dir, chainId);
  }

  async remove(): Promise<void> {
    await this.unmount();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Overlay probes of processes killed while probing: their mount would pin the store. Best effort, as
 * another gantry process may be removing the same probe.
 */
async function removeStaleProbes(snapshotsDir: string): Promise<void> {
  for (const name of await readdir(snapshotsDir).catch(() => [] as string[])) {
    if (!ownerIsDead(name, 'probe-')) continue;
    const probe = join(snapshotsDir, name);
    for (const point of await mountsUnder(probe)) await unmount(point).catch(() => undefined);
    await rm(probe, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function currentBootId(): Promise<string> {
  const id = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '');
  if (id.trim() === '') throw new GantryError('cannot read the kernel boot id (/proc/sys/kernel/random/boot_id)', { hint: 'gantry needs /proc mounted' });
  return id.trim();
}

/** GANTRY_SNAPSHOTTER=overlayfs|native picks the snapshotter instead of probing for overlay support. */
function snapshotterFromEnvironment(): SnapshotterName | undefined {
  const value = process.env.GANTRY_SNAPSHOTTER;
  if (value === undefined || value === '') return undefined;
  if (value === 'overlayfs' || value === 'native') return value;
  throw new GantryError(`GANTRY_SNAPSHOTTER=${value} is not a snapshotter`, { hint: 'use overlayfs or native' });
}

/**
 * overlayfs when an overlay can be mounted here, else native. The answer is kept in the store per
 * kernel release, so builds do not mount a probe each time.
 */
async function probedSnapshotter(snapshotsDir: string): Promise<SnapshotterName> {
  const record = join(snapshotsDir, 'probe');
  const kernel = release();
  const known = await readFile(record, 'utf8').catch(() => '');
  const [name, forKernel] = known.trim().split(' ');
  if ((name === 'overlayfs' || name === 'native') && forKernel === kernel) return name;
  const probed: SnapshotterName = (await overlayWorks(snapshotsDir)) ? 'overlayfs' : 'native';
  await writeFileAtomic(record, `${probed} ${kernel}\n`);
  return probed;
}

/** Whether an overlay can be mounted under `dir` (root, or a user namespace with overlay support). */
async function overlayWorks(dir: string): Promise<boolean> {
  const probe = join(dir, `probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await Promise.all(['lower', 'upper', 'work', 'merged'].map((d) => mkdir(join(probe, d), { recursive: true })));
    const { code } = await tryTool('mount', ['-t', 'overlay', 'overlay', '-o', 'lowerdir=lower,upperdir=upper,workdir=work', 'merged'], 'probing overlay mounts', { cwd: probe });
    if (code !== 0) return false;
    await unmount(join(probe, 'merged'));
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}
