/** Pulling images and artifacts into the store, and resolving a remote image without storing it. */
import { copyImage } from '../image/copy.js';
import { formatPlatform, hostPlatform, platformMatches } from '../image/platform.js';
import { formatReference, parseReference, type ImageReference } from '../image/reference.js';
import { isIndexMediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../image/types.js';
import { isImageConfigMediaType, parseIndex, parseManifest, parseManifestOrIndex } from '../image/documents.js';
import { checkImages, configPlatform, readImageConfig, readManifest } from '../image/graph.js';
import { choosePlatformManifest, StoreImageIO } from '../store/images.js';
import type { Store } from '../store/store.js';
import type { Digest } from '../util/digest.js';
import { GantryError } from '../util/errors.js';
import type { RegistryOptions } from './options.js';
import { RegistryRepository, type ResolvedManifest } from './repository.js';
import { copyProgress } from './progress.js';
import { sessionFor } from './session.js';

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
  const session = sessionFor(options);
  const copyOptions = { concurrency: session.options.concurrency, referrers: true, ...copyProgress(session.options.onProgress, 'pull', repo.name) };

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

export interface RemoteImage {
  /** The full name resolved, e.g. "docker.io/library/alpine:3.20". */
  reference: string;
  /** What the tag names: an index or a manifest. */
  root: Descriptor;
  /** The chosen platform's manifest. */
  descriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  /** The image's platform as its config states it. */
  platform: Platform;
  /** "registry/repository@<manifest digest>": pulling this gets exactly this image. */
  pinned: string;
}

/**
 * Looks up an image in its registry without storing it: for a build's FROM, which needs the digest
 * and config first and the layers only when it runs something.
 */
export async function resolveRemote(reference: string, platform: Platform, options: RegistryOptions = {}): Promise<RemoteImage> {
  const ref = parseReference(reference);
  const repo = openForPull(ref, options);
  const root = await repo.resolve(ref.digest ?? (ref.tag as string));
  let descriptor = root.descriptor;
  if (isIndexMediaType(root.descriptor.mediaType)) {
    descriptor = choosePlatformManifest(parseIndex(root.bytes, `${repo.description}: ${root.descriptor.digest}`), platform, formatReference(ref));
  }
  const what = formatReference(ref);
  const manifest = descriptor === root.descriptor ? parseManifest(root.bytes, `${repo.description}: ${descriptor.digest}`) : await readManifest(repo, descriptor);
  const config = await readImageConfig(repo, manifest, what);
  const imagePlatform = configPlatform(config);
  return {
    reference: formatReference(ref),
    root: root.descriptor,
    descriptor,
    manifest,
    config,
    platform: imagePlatform,
    pinned: `${ref.registry}/${ref.repository}@${descriptor.digest}`,
  };
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
  const session = sessionFor(options);
  await copyImage(repo, new StoreImageIO(store), root.descriptor, {
    concurrency: session.options.concurrency,
    tag: options.localName,
    ...copyProgress(session.options.onProgress, 'pull', repo.name),
  });
  const doc = parseManifestOrIndex(root.descriptor, root.bytes, `${repo.description}: ${root.descriptor.digest}`);
  return { descriptor: root.descriptor, manifest: doc.kind === 'index' ? doc.index : doc.manifest };
}

/** Fetches a remote manifest or index by tag or digest without storing anything. */
export async function fetchManifest(reference: string, options: RegistryOptions = {}): Promise<ResolvedManifest> {
  const ref = parseReference(reference);
  return openForPull(ref, options).resolve(ref.digest ?? (ref.tag as string));
}

function openForPull(ref: ImageReference, options: RegistryOptions): RegistryRepository {
  return new RegistryRepository(sessionFor(options), ref.registry, ref.repository, { useMirrors: true });
}

/** The platform a stored image's config states (undefined for an artifact without an image config). */
async function storedPlatform(store: Store, descriptor: Descriptor): Promise<Platform | undefined> {
  const source = new StoreImageIO(store);
  const manifest = await readManifest(source, descriptor);
  if (!isImageConfigMediaType(manifest.config.mediaType)) return undefined;
  return configPlatform(await readImageConfig(source, manifest, descriptor.digest));
}
