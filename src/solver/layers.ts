/**
 * Layers between snapshots and the content store: a step's changes become a compressed layer blob
 * (diff → deterministic tar → parallel gzip → verified ingest, in one streaming pass), and a stack of
 * layer blobs becomes committed snapshots, unpacking only the layers not yet unpacked.
 */
import { Writable } from 'node:stream';
import { compressLayer, createLayerTar, decompressLayer, chainIdOf, imageLayers } from '../image/index.js';
import { changeEntries, unpackLayer, openSnapshotter, type ActiveSnapshot, type Snapshotter } from '../snapshot/index.js';
import type { Store, LayerRecord, StoredImage } from '../store/index.js';
import { type Digest, GantryError } from '../util/index.js';

export interface LayerStoreOptions {
  /** Clamp file mtimes in new layers to this (seconds since the epoch). */
  sourceDateEpoch?: number;
}

export class LayerStore {
  private readonly materializing = new Map<Digest, Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly options: LayerStoreOptions,
  ) {}

  /** Stores the active snapshot's changes as a layer and commits the snapshot as parentChain + that layer. */
  async commit(active: ActiveSnapshot, parentChain: Digest | undefined): Promise<LayerRecord> {
    await active.unmount();
    const layer = await ingestLayer(this.store, createLayerTar(changeEntries(active.changes()), { sourceDateEpoch: this.options.sourceDateEpoch }));
    const chainId = chainIdOf(parentChain ? [parentChain, layer.diffId] : [layer.diffId]);
    await active.commit(chainId as Digest);
    return layer;
  }

  /**
   * Makes sure a committed snapshot exists for the whole layer stack and returns its chain ID: finds the
   * deepest stack prefix already unpacked and unpacks the remaining layers from their blobs.
   */
  async materialize(snapshotter: Snapshotter, layers: readonly LayerRecord[]): Promise<Digest | undefined> {
    const chains: Digest[] = [];
    for (let i = 0; i < layers.length; i++) chains.push(chainIdOf(layers.slice(0, i + 1).map((l) => l.diffId)) as Digest);
    if (chains.length === 0) return undefined;
    let present = chains.length - 1;
    while (present >= 0 && !(await snapshotter.lookup(chains[present]))) present--;
    for (let i = present + 1; i < chains.length; i++) {
      await this.unpackOnce(snapshotter, chains[i], i > 0 ? chains[i - 1] : undefined, layers[i]);
    }
    return chains[chains.length - 1];
  }

  private unpackOnce(snapshotter: Snapshotter, chain: Digest, parent: Digest | undefined, layer: LayerRecord): Promise<void> {
    let pending = this.materializing.get(chain);
    if (!pending) {
      pending = this.unpack(snapshotter, chain, parent, layer);
      this.materializing.set(chain, pending);
      pending.catch(() => this.materializing.delete(chain));
    }
    return pending;
  }

  private async unpack(snapshotter: Snapshotter, chain: Digest, parent: Digest | undefined, layer: LayerRecord): Promise<void> {
    if (await snapshotter.lookup(chain)) return;
    const active = await snapshotter.prepare(parent);
    try {
      const blob = await this.store.content.openRead(layer.digest);
      const result = await unpackLayer(decompressLayer(blob, layer.digest), active.unpackDir, { mode: active.unpackMode, layer: layer.digest });
      if (result.diffId !== layer.diffId) {
        throw new GantryError(`layer ${layer.digest} does not match its image config: diff ID ${result.diffId}, expected ${layer.diffId}`, {
          hint: 'the image is corrupt; pull or rebuild it',
        });
      }
      await active.commit(chain);
    } catch (err) {
      await active.remove();
      throw err;
    }
  }

}

/** Compresses a layer tar into the store in one pass (digest verified on commit; nothing partial is left). */
export async function ingestLayer(store: Store, tar: AsyncIterable<Uint8Array>): Promise<LayerRecord> {
  // compressLayer hashes the compressed bytes as it hands them over: the store need not hash them again.
  const writer = await store.content.writer({ callerHashes: true });
  try {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        writer.write(chunk).then(() => callback(), callback);
      },
    });
    const layer = await compressLayer(tar, sink);
    await writer.commit({ digest: layer.digest, size: layer.size });
    return { digest: layer.digest, size: layer.size, mediaType: layer.mediaType, diffId: layer.diffId };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/**
 * Unpacks an image's layers into snapshots now, as `docker pull` does, so that the first build on it
 * starts at once. Layers already unpacked are skipped.
 */
export async function unpackImage(store: Store, image: Pick<StoredImage, 'manifest' | 'config'>, what: string): Promise<void> {
  const snapshotter = await openSnapshotter(store.snapshotsDir);
  await new LayerStore(store, {}).materialize(snapshotter, layerRecords(image, what));
}

/** An image's layers as the build tracks them: blob and diff ID (a count that differs from the config's is an error). */
export function layerRecords(image: Pick<StoredImage, 'manifest' | 'config'>, what: string): LayerRecord[] {
  return imageLayers(image.manifest, image.config, what).map(({ descriptor, diffId }) => ({ digest: descriptor.digest, size: descriptor.size, mediaType: descriptor.mediaType, diffId }));
}
