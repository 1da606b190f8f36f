/**
 * What writable snapshots and read-only views of every driver do alike: mount their MountSpecs at a
 * mount point named for this process, unmount, and clean up. A driver says which mounts and which
 * changes; these classes do the rest, so no driver repeats them.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../util/index.js';
import type { ActiveDir, CommittedSnapshots } from './committed.js';
import { applyMounts, type MountSpec } from './mounts.js';
import type { ActiveSnapshot, SnapshotChanges, SnapshotView } from './snapshotter.js';

export abstract class WritableSnapshot implements ActiveSnapshot {
  private mountedAt: string | undefined;

  constructor(
    protected readonly snapshots: CommittedSnapshots,
    protected readonly active: ActiveDir,
  ) {}

  abstract readonly unpackMode: 'overlay' | 'merged';
  abstract mounts(): MountSpec[];
  abstract changes(): SnapshotChanges;

  get unpackDir(): string {
    return join(this.active.dir, 'fs');
  }

  async mount(): Promise<string> {
    if (!this.mountedAt) {
      const target = this.snapshots.mountPoint(this.active.name);
      await mkdir(target, { recursive: true });
      await applyMounts(this.mounts(), target);
      this.mountedAt = target;
    }
    return this.mountedAt;
  }

  async unmount(): Promise<void> {
    if (!this.mountedAt) return;
    const target = this.mountedAt;
    this.mountedAt = undefined;
    await this.snapshots.releaseMountPoint(target);
  }

  async commit(chainId: Digest): Promise<void> {
    await this.unmount();
    await this.snapshots.commit(this.active, chainId);
  }

  async remove(): Promise<void> {
    await this.unmount();
    await rm(this.active.dir, { recursive: true, force: true });
  }
}

/** A read-only view: its mounts applied at a mount point of this process, nothing written anywhere. */
export class MountedView implements SnapshotView {
  private mountedAt: string | undefined;

  constructor(
    private readonly snapshots: CommittedSnapshots,
    private readonly specs: MountSpec[],
  ) {}

  mounts(): MountSpec[] {
    return this.specs;
  }

  async mount(): Promise<string> {
    if (!this.mountedAt) {
      const target = await this.snapshots.createViewPoint();
      try {
        await applyMounts(this.specs, target);
      } catch (err) {
        await rm(target, { recursive: true, force: true });
        throw err;
      }
      this.mountedAt = target;
    }
    return this.mountedAt;
  }

  async release(): Promise<void> {
    if (!this.mountedAt) return;
    const target = this.mountedAt;
    this.mountedAt = undefined;
    await this.snapshots.releaseMountPoint(target);
  }
}
