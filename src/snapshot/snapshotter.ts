/**
 * The snapshotter contract (containerd's Prepare / View / Commit / Mounts) and the one factory every
 * caller uses. Snapshots are root filesystems keyed by layer chain ID; a driver decides how they are
 * stored and mounted, one file each: overlay-driver.ts (kernel overlayfs: a snapshot holds only its
 * layer's changes, a writable one is an empty upper dir over its parents) and native-driver.ts (copies:
 * each snapshot is a full tree, its changes found by a tree diff). Rootless drivers join them behind
 * the same interface. What drivers share — committed snapshots, boot ids, stale leftovers — is in
 * committed.ts; mounts are data (mounts.ts) that `mount()` applies.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type Digest, GantryError, writeFileAtomic, ownerIsDead, tryTool } from '../util/index.js';
import { CommittedSnapshots } from './committed.js';
import { mountsUnder, unmount, type MountSpec } from './mounts.js';
import { NativeSnapshotter } from './native-driver.js';
import { OverlaySnapshotter } from './overlay-driver.js';

export type SnapshotterName = 'overlayfs' | 'native';
export const SNAPSHOTTER_NAMES: readonly SnapshotterName[] = ['overlayfs', 'native'];

/** What a writable snapshot changed, in the form the layer diff needs. */
export type SnapshotChanges =
  | { kind: 'overlay-upper'; upperDir: string }
  | { kind: 'tree'; lowerDir: string; upperDir: string; copiedAtNs?: bigint };

/** A writable root filesystem on top of a committed snapshot (or empty). */
export interface ActiveSnapshot {
  /** Directory a layer tar is unpacked into (no mount needed), with the unpack mode it needs. */
  readonly unpackDir: string;
  readonly unpackMode: 'overlay' | 'merged';
  /** The mounts that make up the root filesystem, as data. */
  mounts(): MountSpec[];
  /** Mounts the full root filesystem and returns its path. */
  mount(): Promise<string>;
  unmount(): Promise<void>;
  changes(): SnapshotChanges;
  /** Publishes this snapshot as the one for `chainId`; if another process got there first, theirs is kept. */
  commit(chainId: Digest): Promise<void>;
  remove(): Promise<void>;
}

/** A read-only root filesystem of a committed snapshot, for reading (COPY --from, outputs, passwd lookups). */
export interface SnapshotView {
  mounts(): MountSpec[];
  /** Mounts it and returns its path. */
  mount(): Promise<string>;
  release(): Promise<void>;
}

export interface Snapshotter {
  readonly name: SnapshotterName;
  /** The committed snapshot id for a chain, if present and written during this boot. */
  lookup(chainId: Digest): Promise<string | undefined>;
  /** A writable snapshot over the one for `parentChainId` (empty without one). */
  prepare(parentChainId: Digest | undefined): Promise<ActiveSnapshot>;
  /** A read-only view of the snapshot for `chainId` (empty without one): never a copy. */
  view(chainId: Digest | undefined): Promise<SnapshotView>;
  // What prune needs (store/gc.ts SnapshotCollector):
  listCommitted(): Promise<Map<string, Digest | undefined>>;
  removeCommitted(id: string, chainId: Digest | undefined): Promise<void>;
  committedPath(id: string): string;
  removeStale(): Promise<void>;
  isFromThisBoot(id: string): Promise<boolean>;
}

/** Opens the snapshotter `preferred` names, else GANTRY_SNAPSHOTTER's, else the best this machine supports. */
export async function openSnapshotter(snapshotsDir: string, preferred?: SnapshotterName): Promise<Snapshotter> {
  await removeStaleProbes(snapshotsDir);
  const name = preferred ?? snapshotterFromEnvironment() ?? (await probedSnapshotter(snapshotsDir));
  return openDriver(snapshotsDir, name);
}

/** Every driver's snapshots, for prune. */
export async function openAllSnapshotters(snapshotsDir: string): Promise<Snapshotter[]> {
  await removeStaleProbes(snapshotsDir);
  return Promise.all(SNAPSHOTTER_NAMES.map((name) => openDriver(snapshotsDir, name)));
}

async function openDriver(snapshotsDir: string, name: SnapshotterName): Promise<Snapshotter> {
  const snapshots = await CommittedSnapshots.open(join(snapshotsDir, name));
  return name === 'overlayfs' ? new OverlaySnapshotter(snapshots) : new NativeSnapshotter(snapshots);
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

/** GANTRY_SNAPSHOTTER=overlayfs|native picks the snapshotter instead of probing for overlay support. */
function snapshotterFromEnvironment(): SnapshotterName | undefined {
  const value = process.env.GANTRY_SNAPSHOTTER;
  if (value === undefined || value === '') return undefined;
  if ((SNAPSHOTTER_NAMES as readonly string[]).includes(value)) return value as SnapshotterName;
  throw new GantryError(`GANTRY_SNAPSHOTTER=${value} is not a snapshotter`, { hint: `use ${SNAPSHOTTER_NAMES.join(' or ')}` });
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
