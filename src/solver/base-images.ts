/**
 * Base images for FROM and COPY --from=<image>: found in the local store, or pulled through the
 * registry seam when missing (or always, with --pull). Each resolution pins a manifest digest.
 */
import type { ResolvedImage } from '../frontend/index.js';
import { formatPlatform, normalizeReference, type Platform, configPlatform } from '../image/index.js';
import type { Progress } from '../progress/index.js';
import { findLocalImage, readImage, type StoredImage, type Store } from '../store/index.js';
import { GantryError, type Digest } from '../util/index.js';
import { baseImageKey } from './cache-key.js';
import { layerRecords } from './layers.js';
import type { StageState } from './state.js';

/** Pulls `ref` for `platform` into the store and returns the stored image (registry module). */
export type RemoteResolver = (store: Store, ref: string, platform: Platform, progress: Progress) => Promise<StoredImage>;

export interface BaseImageOptions {
  pull: boolean;
  resolveRemote?: RemoteResolver;
  progress: Progress;
}

export class BaseImages {
  private readonly byDigest = new Map<string, StoredImage>();
  private readonly resolving = new Map<string, Promise<ResolvedImage>>();

  constructor(
    private readonly store: Store,
    private readonly options: BaseImageOptions,
  ) {}

  resolve(ref: string, platform: Platform): Promise<ResolvedImage> {
    const name = normalizeReference(ref);
    const cacheKey = `${name} ${formatPlatform(platform)}`;
    let pending = this.resolving.get(cacheKey);
    if (!pending) {
      pending = this.resolveUncached(ref, name, platform);
      this.resolving.set(cacheKey, pending);
    }
    return pending;
  }

  private async resolveUncached(ref: string, name: string, platform: Platform): Promise<ResolvedImage> {
    let image = this.options.pull ? undefined : await findLocalImage(this.store, name, platform);
    if (!image) {
      if (!this.options.resolveRemote) {
        throw new GantryError(`base image ${ref} is not in the local store`, {
          hint: 'load or import it first (gantry load / gantry import), or build it with -t',
        });
      }
      try {
        image = await this.options.resolveRemote(this.store, name, platform, this.options.progress);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new GantryError(this.options.pull ? `pulling ${name} failed: ${reason}` : `${name} is not in the local store, and pulling it failed: ${reason}`, {
          hint: err instanceof GantryError && err.hint ? err.hint : 'load or import it first (gantry load / gantry import), build it with -t, or make its registry reachable',
          cause: err,
        });
      }
    }
    this.byDigest.set(image.descriptor.digest, image);
    return {
      ref: name,
      digest: image.descriptor.digest,
      platform: configPlatform(image.config),
      config: image.config.config ?? {},
    };
  }

  /** The build state an image provides: its layers, history and config. */
  async stateOf(resolved: ResolvedImage): Promise<StageState> {
    let image = this.byDigest.get(resolved.digest);
    if (!image) {
      image = await readImage(this.store, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: resolved.digest as Digest, size: 0 }, resolved.platform);
      this.byDigest.set(resolved.digest, image);
    }
    return {
      platform: resolved.platform,
      key: baseImageKey(resolved.digest),
      layers: layerRecords(image, `image ${resolved.ref}`),
      history: image.config.history ?? [],
      config: image.config.config ?? {},
      ...(image.config.author ? { author: image.config.author } : {}),
    };
  }
}
