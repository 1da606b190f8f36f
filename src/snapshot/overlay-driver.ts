/**
 * The overlayfs driver: a committed snapshot holds only its layer's changes (overlay format: whiteouts
 * are 0/0 char devices, opaque directories carry trusted.overlay.opaque); a writable snapshot is an
 * empty upper directory mounted over its parents, and that upper directory is the next layer's content,
 * so committing never copies. A view is the parents alone: read-only by construction.
 */
import { join, relative } from 'node:path';
import type { Digest } from '../util/index.js';
import { MountedView, WritableSnapshot } from './active.js';
import type { ActiveDir, CommittedSnapshots } from './committed.js';
import { bindSpec, overlaySpec, type MountSpec } from './mounts.js';
import type { ActiveSnapshot, SnapshotChanges, Snapshotter, SnapshotView } from './snapshotter.js';

export class OverlaySnapshotter implements Snapshotter {
  readonly name = 'overlayfs' as const;

  constructor(private readonly snapshots: CommittedSnapshots) {}

  lookup(chainId: Digest): Promise<string | undefined> {
    return this.snapshots.lookup(chainId);
  }

  async prepare(parentChainId: Digest | undefined): Promise<ActiveSnapshot> {
    const parentId = await this.snapshots.require(parentChainId);
    const active = await this.snapshots.createActive(parentId);
    const lowers = parentId ? await this.lowerDirs(parentId) : [relative(this.snapshots.committedDir, await this.snapshots.emptyDir())];
    return new OverlayActive(this.snapshots, active, lowers);
  }

  async view(chainId: Digest | undefined): Promise<SnapshotView> {
    const id = await this.snapshots.require(chainId);
    if (!id) return new MountedView(this.snapshots, [bindSpec(await this.snapshots.emptyDir(), true)]);
    const lowers = await this.lowerDirs(id);
    // An overlay without an upper directory needs two lower ones; a single layer is bound read-only.
    const spec = lowers.length === 1 ? bindSpec(this.snapshots.committedPath(id), true) : overlaySpec(lowers, this.snapshots.committedDir);
    return new MountedView(this.snapshots, [spec]);
  }

  /** The fs directories of `id` and its parents, topmost first, relative to committed/. */
  private async lowerDirs(id: string): Promise<string[]> {
    return (await this.snapshots.chainIds(id)).map((layer) => `${layer}/fs`);
  }

  listCommitted(): Promise<Map<string, Digest | undefined>> {
    return this.snapshots.listCommitted();
  }

  removeCommitted(id: string, chainId: Digest | undefined): Promise<void> {
    return this.snapshots.removeCommitted(id, chainId);
  }

  committedPath(id: string): string {
    return this.snapshots.committedPath(id);
  }

  removeStale(): Promise<void> {
    return this.snapshots.removeStale();
  }

  isFromThisBoot(id: string): Promise<boolean> {
    return this.snapshots.isFromThisBoot(id);
  }
}

class OverlayActive extends WritableSnapshot {
  readonly unpackMode = 'overlay' as const;

  constructor(
    snapshots: CommittedSnapshots,
    active: ActiveDir,
    private readonly lowers: string[],
  ) {
    super(snapshots, active);
  }

  mounts(): MountSpec[] {
    return [overlaySpec(this.lowers, this.snapshots.committedDir, { upperDir: join(this.active.dir, 'fs'), workDir: join(this.active.dir, 'work') })];
  }

  changes(): SnapshotChanges {
    return { kind: 'overlay-upper', upperDir: join(this.active.dir, 'fs') };
  }
}
