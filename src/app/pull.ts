/**
 * Pulling images and artifacts from a registry into the store: the copy loop from a registry
 * repository into the store, each image checked before it is named (a malformed one stays unnamed,
 * and prune removes it). Callers hold a store session.
 */
import { copyImage, isImageConfigMediaType, parseIndex, parseManifestOrIndex, checkImages, choosePlatformManifest, configPlatform, readImageConfig, readManifest, formatPlatform, hostPlatform, platformMatches, formatReference, parseReference, isIndexMediaType, type Descriptor, type ImageIndex, type ImageManifest, type Platform } from '../image/index.js';
import { type RegistryOptions, copyOptionsFor, openForPull } from '../registry/index.js';
import { StoreImageIO, type Store } from '../store/index.js';
import { type Digest, GantryError } from '../util/index.js';

export interface PullOptions extends RegistryOptions {
  /** The platform to take from a multi-platform image (default: the host's). Given explicitly, a single-platform image for another platform is refused. */
  platform?: Platform;
  /** Store the whole index with every platform's image, instead of one platform's manifest. */
  allPlatforms?: boolean;
}

export interface PullResult {
  /** The full name pulled, e.g. "docker.io/library/alpine:3.20". */
  reference: string;
  /** Digest of what the registry's tag (or digest) names: an index or a manifest. */
  remoteDigest: Digest;
  /** What the store now holds under the name: the platform's manifest, or the whole index with allPlatforms. */
  descriptor: Descriptor;
  /** The stored image's platform (undefined for a whole index). */
  platform?: Platform;
}

/**
 * Pulls an image into the store. A tagged reference names the stored image ("alpine" is stored as
 * docker.io/library/alpine:latest); a reference by digest alone is kept unnamed until pruned.
 */
export async function pullImage(store: Store, reference: string, options: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(reference);
  const repo = openForPull(ref, options);
  const root = await repo.resolve(ref.digest ?? (ref.tag as string));
  const sink = new StoreImageIO(store);
  const name = ref.tag !== undefined ? formatReference({ ...ref, digest: undefined }) : undefined;
  const copyOptions = copyOptionsFor(options, repo, 'pull');

  let descriptor = root.descriptor;
  let platform: Platform | undefined;
  if (isIndexMediaType(root.descriptor.mediaType) && !options.allPlatforms) {
    const wanted = options.platform ?? hostPlatform();
    descriptor = choosePlatformManifest(parseIndex(root.bytes, `${repo.description}: ${root.descriptor.digest}`), wanted, formatReference(ref));
    platform = descriptor.platform;
    await copyImage(repo, sink, descriptor, copyOptions);
  } else {
    await copyImage(repo, sink, root.descriptor, copyOptions);
    if (!isIndexMediaType(root.descriptor.mediaType)) {
      platform = await storedPlatform(store, root.descriptor);
      // Checked before the image is named: a refused image stays unnamed, and prune removes it.
      if (options.platform && platform && !platformMatches(options.platform, platform)) {
        throw new GantryError(`${formatReference(ref)} is an image for ${formatPlatform(platform)}, not ${formatPlatform(options.platform)}`, {
          hint: 'pull without --platform to take it anyway, or pick a reference that has the platform',
        });
      }
    }
  }
  // Checked before the image is named: a malformed image stays unnamed, and prune removes it.
  await checkImages(new StoreImageIO(store), descriptor, formatReference(ref));
  if (name) await store.refs.set(name, descriptor);
  else await store.refs.keepUntagged(descriptor);
  return { reference: formatReference(ref), remoteDigest: root.descriptor.digest, descriptor, platform };
}

export interface PullArtifactOptions extends RegistryOptions {
  /** Name the artifact in the store (a tagged name); by default only its content is stored. */
  localName?: string;
}

export interface PulledArtifact {
  descriptor: Descriptor;
  /** The manifest (or index) as pulled; its blobs are in the store. */
  manifest: ImageManifest | ImageIndex;
}

/** Pulls any manifest or index, whatever its config and layer media types, with all its blobs. */
export async function pullArtifact(store: Store, reference: string, options: PullArtifactOptions = {}): Promise<PulledArtifact> {
  const ref = parseReference(reference);
  const repo = openForPull(ref, options);
  const root = await repo.resolve(ref.digest ?? (ref.tag as string));
  await copyImage(repo, new StoreImageIO(store), root.descriptor, { ...copyOptionsFor(options, repo, 'pull'), tag: options.localName });
  const doc = parseManifestOrIndex(root.descriptor, root.bytes, `${repo.description}: ${root.descriptor.digest}`);
  return { descriptor: root.descriptor, manifest: doc.kind === 'index' ? doc.index : doc.manifest };
}

/** The platform a stored image's config states (undefined for an artifact without an image config). */
async function storedPlatform(store: Store, descriptor: Descriptor): Promise<Platform | undefined> {
  const source = new StoreImageIO(store);
  const manifest = await readManifest(source, descriptor);
  if (!isImageConfigMediaType(manifest.config.mediaType)) return undefined;
  return configPlatform(await readImageConfig(source, manifest, descriptor.digest));
}
