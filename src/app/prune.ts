/** `prune`: with the store to itself, removes what no named image (or kept cache) reaches, and what killed commands left. */
import { openRuntime } from '../exec/index.js';
import { openAllSnapshotters } from '../snapshot/index.js';
import { prune as collect, type PruneReport, openSession } from '../store/index.js';
import type { StoreAccess } from './session.js';

export interface PruneRequest {
  /** Keep the build cache (and the layers it points to). */
  keepCache: boolean;
  /** The OCI runtime whose containers of killed builds are removed first. */
  runtime: string;
}

export async function pruneStore(access: StoreAccess, request: PruneRequest): Promise<PruneReport> {
  const session = await openSession(access.root, 'exclusive', access.onWait);
  try {
    const { store } = session;
    // Containers of killed builds go first: they may still hold the snapshots' mounts. Without the
    // runtime installed there are none to remove.
    const runtime = await openRuntime(request.runtime, store.runtimeDirs).catch(() => undefined);
    await runtime?.removeStale();
    return await collect(session, { keepCache: request.keepCache, snapshotters: await openAllSnapshotters(store.snapshotsDir) });
  } finally {
    await session.release();
  }
}
