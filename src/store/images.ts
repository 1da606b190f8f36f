/**
 * Reading images out of the store, and the store as a source and sink of the copy loop.
 */
import { isIndexMediaType, isManifestMediaType, MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../image/types.js';
import type { BlobStream, ImageSink, ImageSource } from '../image/copy.js';
import { formatPlatform, platformMatchRank } from '../image/platform.js';
import { familiarReference, formatReference, parseReference } from '../image/reference.js';
import { GantryError } from '../util/errors.js';
import { isDigest, type Digest } from '../util/digest.js';
import type { Store } from './store.js';

export interface StoredImage {
  /** The name it was looked up by (full form), if any. */
  name?: string;
  /** The platform manifest. */
  descriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  /** The index the manifest was chosen from, when the name points at an index. */
  index?: Descriptor;
}

export class StoreImageIO implements ImageSource, ImageSink {
  readonly description: string;

  constructor(private readonly store: Store) {
    this.description = `local store ${store.root}`;
  }

  async getManifest(descriptor: Descriptor): Promise<Uint8Array> {
    return this.store.content.readBytes(descriptor.digest);
  }

  async openBlob(descriptor: Descriptor): Promise<BlobStream> {
    return this.store.content.openRead(descriptor.digest);
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.store.content.has(descriptor.digest);
  }

  async putBlob(descriptor: Descriptor, open: () => Promise<BlobStream>): Promise<void> {
    await this.store.content.ingest(await open(), { digest: descriptor.digest, size: descriptor.size });
  }

  async hasManifest(descriptor: Descriptor): Promise<boolean> {
    return this.store.content.has(descriptor.digest);
  }

  async putManifest(descriptor: Descriptor, bytes: Uint8Array, tag?: string): Promise<void> {
    await this.store.content.writeBytes(bytes, { digest: descriptor.digest, size: descriptor.size });
    if (tag) await this.store.refs.set(tag, descriptor);
  }
}

/**
 * Finds a local image by name ("app:1", full name) or digest ("sha256:...", or a unique prefix of
 * at least 12 hex digits) and picks the manifest for `platform` when the name points at an index.
 */
export async function findLocalImage(store: Store, nameOrDigest: string, platform?: Platform): Promise<StoredImage | undefined> {
  const root = await findRootDescriptor(store, nameOrDigest);
  if (!root) return undefined;
  const name = isDigestLike(nameOrDigest) ? undefined : fullName(nameOrDigest);
  return readImage(store, root, platform, name);
}

export async function readImage(store: Store, root: Descriptor, platform: Platform | undefined, name?: string): Promise<StoredImage> {
  if (isIndexMediaType(root.mediaType)) {
    const index = await store.content.readJson<ImageIndex>(root.digest);
    const chosen = choosePlatformManifest(index, platform, name ?? root.digest);
    const image = await readImage(store, chosen, platform, name);
    return { ...image, index: root };
  }
  if (!isManifestMediaType(root.mediaType)) {
    throw new GantryError(`${name ?? root.digest} is not an image (media type ${root.mediaType})`);
  }
  const manifest = await store.content.readJson<ImageManifest>(root.digest);
  const config = await store.content.readJson<ImageConfig>(manifest.config.digest);
  return { name, descriptor: root, manifest, config };
}

export function choosePlatformManifest(index: ImageIndex, platform: Platform | undefined, what: string): Descriptor {
  const candidates = index.manifests.filter((m) => isManifestMediaType(m.mediaType) && m.platform && m.platform.architecture !== 'unknown');
  if (!platform) {
    if (candidates.length === 0) throw new GantryError(`${what} is an index with no platform images`);
    return candidates[0];
  }
  let best: { descriptor: Descriptor; rank: number } | undefined;
  for (const descriptor of candidates) {
    const rank = platformMatchRank(platform, descriptor.platform as Platform);
    if (rank !== undefined && (!best || rank < best.rank)) best = { descriptor, rank };
  }
  if (!best) {
    const has = candidates.map((m) => formatPlatform(m.platform as Platform));
    throw new GantryError(`${what} has no image for platform ${formatPlatform(platform)}`, {
      hint: `it has: ${has.join(', ') || 'none'}`,
    });
  }
  return best.descriptor;
}

async function findRootDescriptor(store: Store, nameOrDigest: string): Promise<Descriptor | undefined> {
  const entries = await store.refs.list();
  if (isDigestLike(nameOrDigest)) {
    const hex = nameOrDigest.replace(/^sha256:/, '');
    const matches = [...new Map(entries.filter((e) => e.descriptor.digest.slice(7).startsWith(hex)).map((e) => [e.descriptor.digest, e.descriptor])).values()];
    if (matches.length > 1) throw new GantryError(`image ID ${nameOrDigest} is ambiguous`, { hint: 'give more digits' });
    if (matches.length === 1) return matches[0];
    // A platform manifest inside a stored index, addressed by its own digest.
    const full = `sha256:${hex}`;
    if (isDigest(full) && (await store.content.has(full as Digest))) {
      const doc = await store.content.readJson<{ mediaType?: string; manifests?: unknown; config?: unknown }>(full as Digest);
      const info = await store.content.info(full as Digest);
      const mediaType = doc.mediaType ?? (doc.manifests ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json');
      if (doc.manifests || doc.config) return { mediaType, digest: full as Digest, size: info?.size ?? 0 };
    }
    return undefined;
  }
  const full = fullName(nameOrDigest);
  return entries.find((e) => e.name === full)?.descriptor;
}

function isDigestLike(text: string): boolean {
  return /^(sha256:)?[a-f0-9]{12,64}$/.test(text);
}

/** The full name an index.json entry carries for a user-typed name (digest part dropped). */
function fullName(text: string): string {
  return formatReference({ ...parseReference(text), digest: undefined });
}

export function displayName(fullName: string | undefined): string {
  return fullName ? familiarReference(parseReference(fullName)) : '<none>';
}

/**
 * An image index in the store made of local images (each a platform image, or an index whose
 * platform images are taken), named `target`: how several platforms' images become one
 * multi-platform image without a registry. Two images for one platform are refused.
 */
export async function createLocalIndex(store: Store, target: string, sources: string[], annotations: Record<string, string> = {}): Promise<Descriptor> {
  if (sources.length === 0) throw new GantryError('an image index needs at least one source image');
  const byPlatform = new Map<string, { descriptor: Descriptor; from: string }>();
  for (const source of sources) {
    const root = await findRootDescriptor(store, source);
    if (!root) throw new GantryError(`no such image: ${source}`, { hint: 'list local images with `gantry images`' });
    const children: Descriptor[] = [];
    if (isIndexMediaType(root.mediaType)) {
      const index = await store.content.readJson<ImageIndex>(root.digest);
      children.push(...index.manifests.filter((m) => isManifestMediaType(m.mediaType) && m.platform && m.platform.architecture !== 'unknown'));
    } else {
      const image = await readImage(store, root, undefined, source);
      const platform: Platform = { os: image.config.os, architecture: image.config.architecture, ...(image.config.variant ? { variant: image.config.variant } : {}) };
      children.push({ mediaType: root.mediaType, digest: root.digest, size: root.size, platform });
    }
    for (const child of children) {
      const key = formatPlatform(child.platform as Platform);
      const known = byPlatform.get(key);
      if (known && known.descriptor.digest !== child.digest) {
        throw new GantryError(`${source} and ${known.from} are both images for ${key}`, { hint: 'an index holds one image per platform' });
      }
      byPlatform.set(key, { descriptor: child, from: source });
    }
  }
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [...byPlatform.values()].map((entry) => entry.descriptor),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const blob = await store.content.writeJson(index);
  const descriptor: Descriptor = { mediaType: MediaType.ociIndex, digest: blob.digest, size: blob.size };
  await store.refs.set(target, descriptor);
  return descriptor;
}
