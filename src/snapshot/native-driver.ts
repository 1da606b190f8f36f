/**
 * The native (copy) driver, for where overlay cannot be mounted: each snapshot is a full tree; a
 * writable snapshot starts as a copy of its parent (reflinks where the file system has them) and its
 * changes are found by a tree diff against the parent. A view is the committed tree bound read-only,
 * never a copy.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, copyTreePreserving } from '../util/index.js';
import { MountedView, WritableSnapshot } from './active.js';
import type { ActiveDir, CommittedSnapshots } from './committed.js';
import { bindSpec, type MountSpec } from './mounts.js';
import type { ActiveSnapshot, SnapshotChanges, Snapshotter, SnapshotView } from './snapshotter.js';

export class NativeSnapshotter implements Snapshotter {
  readonly name = 'native' as const;

  constructor(private readonly snapshots: CommittedSnapshots) {}

  lookup(chainId: Digest): Promise<string | undefined> {
    return this.snapshots.lookup(chainId);
  }

  async prepare(parentChainId: Digest | undefined): Promise<ActiveSnapshot> {
    const parentId = await this.snapshots.require(parentChainId);
    const active = await this.snapshots.createActive(parentId);
    let copiedAtNs: bigint | undefined;
    if (parentId) {
      try {
        await copyTreePreserving(this.snapshots.committedPath(parentId), join(active.dir, 'fs'), 'copying the parent snapshot');
      } catch (err) {
        await rm(active.dir, { recursive: true, force: true });
        throw err;
      }
      // Lets the tree diff skip reading files not written since the copy (their ctime is older).
      copiedAtNs = BigInt(Date.now()) * 1_000_000n;
    }
    const lowerDir = parentId ? this.snapshots.committedPath(parentId) : await this.snapshots.emptyDir();
    return new NativeActive(this.snapshots, active, lowerDir, copiedAtNs);
  }

  async view(chainId: Digest | undefined): Promise<SnapshotView> {
    const id = await this.snapshots.require(chainId);
    return new MountedView(this.snapshots, [bindSpec(id ? this.snapshots.committedPath(id) : await this.snapshots.emptyDir(), true)]);
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

class NativeActive extends WritableSnapshot {
  readonly unpackMode = 'merged' as const;

  constructor(
    snapshots: CommittedSnapshots,
    active: ActiveDir,
    /** What the snapshot started from: the parent's tree, or an empty directory. */
    private readonly lowerDir: string,
    private readonly copiedAtNs: bigint | undefined,
  ) {
    super(snapshots, active);
  }

  mounts(): MountSpec[] {
    return [bindSpec(join(this.active.dir, 'fs'), false)];
  }

  changes(): SnapshotChanges {
    return { kind: 'tree', lowerDir: this.lowerDir, upperDir: join(this.active.dir, 'fs'), copiedAtNs: this.copiedAtNs };
  }
}
