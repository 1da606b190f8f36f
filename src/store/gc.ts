/**
 * Garbage collection for `gantry prune`: removes untagged images and (unless kept) the build cache,
 * then every blob and snapshot no remaining image (or kept cache record) reaches, and the leftovers
 * of killed processes. Runs in the store's only session (store/session.ts): every other command holds
 * a shared one, so prune waits for them and never deletes what a running command uses.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Descriptor, isImageConfigMediaType, readImageConfig, walkImage, chainIdOf } from '../image/index.js';
import { isGantryError, type Digest, ownerIsDead, isDeadTempSibling } from '../util/index.js';
import { StoreImageIO } from './images.js';
import { CacheStore } from './cache-records.js';
import type { StoreSession } from './session.js';
import type { Store } from './store.js';

/** The snapshot side of GC (implemented by the snapshotter), so the store need not know its layout. */
export interface SnapshotCollector {
  listCommitted(): Promise<Map<string, Digest | undefined>>;
  removeCommitted(id: string, chainId: Digest | undefined): Promise<void>;
  committedPath(id: string): string;
  removeStale(): Promise<void>;
  /** Snapshots of an earlier boot are never used again: prune removes them. */
  isFromThisBoot(id: string): Promise<boolean>;
}

export interface PruneOptions {
  /** Keep build cache records and the layers they point to. */
  keepCache: boolean;
  snapshotters: SnapshotCollector[];
}

export interface PruneReport {
  untaggedImages: number;
  cacheRecords: number;
  /** Step-input records (for miss explanations) dropped by age or size under --keep-cache. */
  stepInputs: number;
  blobs: number;
  snapshots: number;
  bytes: number;
}

/** What step-input records `prune --keep-cache` keeps: those of the last 30 days, at most 64 MiB of them. */
const STEP_INPUT_LIMITS = { maxAgeDays: 30, maxBytes: 64 * 1024 * 1024 };

/** Prunes the session's store; the session must be the only one open (`exclusive`). */
export async function prune(session: StoreSession, options: PruneOptions): Promise<PruneReport> {
  if (session.mode !== 'exclusive') throw new Error('prune needs the store to itself (an exclusive session)');
  const { store } = session;
  const report: PruneReport = { untaggedImages: 0, cacheRecords: 0, stepInputs: 0, blobs: 0, snapshots: 0, bytes: 0 };
  await store.refs.update((entries) => {
    const kept = entries.filter((e) => e.name !== undefined);
    report.untaggedImages = entries.length - kept.length;
    return kept;
  });

  const cache = new CacheStore(store.cacheDir);
  const keptBlobs = new Set<Digest>();
  if (options.keepCache) {
    for (const record of await cache.list()) keptBlobs.add(record.layer.digest);
    const inputs = await cache.pruneInputs(STEP_INPUT_LIMITS);
    report.stepInputs = inputs.records;
    report.bytes += inputs.bytes;
  } else {
    report.bytes += await dirSize(store.cacheDir);
    report.cacheRecords = (await cache.list()).length;
    await rm(store.cacheDir, { recursive: true, force: true });
    report.bytes += await dirSize(store.cacheMountsDir);
    await rm(store.cacheMountsDir, { recursive: true, force: true });
  }

  const keptChains = new Set<Digest>();
  for (const entry of await store.refs.list()) await markImage(store, entry.descriptor, keptBlobs, keptChains);

  for (const digest of await store.content.list()) {
    if (keptBlobs.has(digest)) continue;
    const info = await store.content.info(digest);
    await store.content.delete(digest);
    report.blobs++;
    report.bytes += info?.size ?? 0;
  }
  await store.referrers.retain((subject, referrer) => keptBlobs.has(subject) && keptBlobs.has(referrer.digest));

  for (const snapshotter of options.snapshotters) {
    await snapshotter.removeStale();
    for (const [id, chain] of await snapshotter.listCommitted()) {
      if (chain && keptChains.has(chain) && (await snapshotter.isFromThisBoot(id))) continue;
      report.bytes += await dirSize(snapshotter.committedPath(id));
      await snapshotter.removeCommitted(id, chain);
      report.snapshots++;
    }
  }

  report.bytes += await removeDeadOwnerEntries(store.content.ingestDir);
  // Atomic writes killed before their rename (index.json, cache records, stat caches, referrers lists).
  for (const dir of [store.root, join(store.cacheDir, 'records'), join(store.cacheDir, 'inputs'), store.contextCacheDir, join(store.root, 'referrers'), store.snapshotsDir]) {
    report.bytes += await removeDeadTempSiblings(dir);
  }
  for (const prefix of TEMP_DIR_PREFIXES) report.bytes += await removeDeadOwnerEntries(store.tmpDir, prefix);
  return report;
}

/**
 * Marks what an image reaches — its documents, configs and layers, its referrers and theirs — and the
 * chain IDs of every prefix of each image's layer stack. A document that cannot be read marks only
 * itself: what it names cannot be known, and that image cannot be used anyway; the rest is kept.
 */
async function markImage(store: Store, root: Descriptor, blobs: Set<Digest>, chains: Set<Digest>): Promise<void> {
  const source = new StoreImageIO(store);
  await walkImage(
    source,
    root,
    async ({ descriptor, doc }) => {
      blobs.add(descriptor.digest);
      if (doc.kind === 'index') return;
      const manifest = doc.manifest;
      blobs.add(manifest.config.digest);
      for (const layer of manifest.layers) blobs.add(layer.digest);
      if (!isImageConfigMediaType(manifest.config.mediaType) || !(await store.content.has(manifest.config.digest))) return;
      try {
        const diffIds = (await readImageConfig(source, manifest, descriptor.digest)).rootfs.diff_ids;
        for (let i = 1; i <= diffIds.length; i++) chains.add(chainIdOf(diffIds.slice(0, i)) as Digest);
      } catch (err) {
        if (!isGantryError(err)) throw err;
      }
    },
    {
      referrers: true,
      onUnreadable: (descriptor) => {
        blobs.add(descriptor.digest);
      },
    },
  );
}

/** What commands keep under tmp/, each named "<prefix><pid>-…": builds' scratch, loads' staging, archives read from a stream. */
const TEMP_DIR_PREFIXES = ['build-', 'load-', 'archive-'];

async function removeDeadOwnerEntries(dir: string, prefix = ''): Promise<number> {
  let freed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!ownerIsDead(name, prefix)) continue;
    freed += await dirSize(join(dir, name));
    await rm(join(dir, name), { recursive: true, force: true });
  }
  return freed;
}

async function removeDeadTempSiblings(dir: string): Promise<number> {
  let freed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!isDeadTempSibling(name)) continue;
    freed += await dirSize(join(dir, name));
    await rm(join(dir, name), { force: true });
  }
  return freed;
}

/** Bytes used by a file or directory tree (hardlinks counted once). */
export async function dirSize(path: string, seen = new Set<bigint>()): Promise<number> {
  const st = await lstat(path, { bigint: true }).catch(() => undefined);
  if (!st) return 0;
  if (seen.has(st.ino)) return 0;
  seen.add(st.ino);
  if (!st.isDirectory()) return Number(st.blocks) * 512;
  let total = Number(st.blocks) * 512;
  for (const name of await readdir(path)) total += await dirSize(join(path, name), seen);
  return total;
}
