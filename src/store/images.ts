/**
 * Reading images out of the store, and the store as a source and sink of the copy loop.
 */
import { isIndexMediaType, isManifestMediaType, MediaType, type Descriptor, type ImageConfig, type ImageManifest, type Platform, type BlobStream, type ImageSink, type ImageSource, imageIndex, MAX_MANIFEST_BYTES, parseManifestOrIndex, unsupportedMediaType, choosePlatformManifest, configPlatform, platformImages, readDocument, readImageConfig, readIndex, referrerDescriptor, subjectOf, formatPlatform, familiarReference, formatReference, parseReference } from '../image/index.js';
import { GantryError, isDigest, type Digest } from '../util/index.js';
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
    return this.store.content.readBytes(descriptor.digest, MAX_MANIFEST_BYTES);
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

  /** Stores a manifest or index; one with a subject is recorded among its subject's referrers. */
  async putManifest(descriptor: Descriptor, bytes: Uint8Array, tag?: string): Promise<void> {
    const doc = parseManifestOrIndex(descriptor, bytes, `${this.description}: ${descriptor.digest}`);
    await this.store.content.writeBytes(bytes, { digest: descriptor.digest, size: descriptor.size });
    const subject = subjectOf(doc);
    if (subject) await this.store.referrers.add(subject.digest, referrerDescriptor(descriptor, doc));
    if (tag) await this.store.refs.set(tag, descriptor);
  }

  async listReferrers(subject: Digest): Promise<Descriptor[]> {
    return this.store.referrers.list(subject);
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
  const source = new StoreImageIO(store);
  const what = name ? displayName(name) : root.digest;
  if (!isIndexMediaType(root.mediaType) && !isManifestMediaType(root.mediaType)) {
    throw new GantryError(`${what} is not an image (media type ${root.mediaType})`);
  }
  const doc = await readDocument(source, root, `image ${what}`);
  if (doc.kind === 'index') {
    const chosen = choosePlatformManifest(doc.index, platform, name ?? root.digest);
    const image = await readImage(store, chosen, platform, name);
    return { ...image, index: root };
  }
  const config = await readImageConfig(source, doc.manifest, `image ${what}`);
  return { name, descriptor: root, manifest: doc.manifest, config };
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
    if (isDigest(full)) {
      const info = await store.content.info(full);
      if (info) {
        const bytes = await store.content.readBytes(full, MAX_MANIFEST_BYTES);
        const mediaType = sniffMediaType(bytes);
        if (mediaType) return { mediaType, digest: full, size: info.size };
      }
    }
    return undefined;
  }
  const full = fullName(nameOrDigest);
  return entries.find((e) => e.name === full)?.descriptor;
}

/** The media type a stored manifest or index declares (or, for OCI documents that leave it out, shows by its fields). */
function sniffMediaType(bytes: Buffer): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const { mediaType, manifests, config } = doc as { mediaType?: unknown; manifests?: unknown; config?: unknown };
  if (typeof mediaType === 'string') return isIndexMediaType(mediaType) || isManifestMediaType(mediaType) ? mediaType : undefined;
  if (Array.isArray(manifests)) return MediaType.ociIndex;
  return config !== undefined ? MediaType.ociManifest : undefined;
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
      children.push(...platformImages(await readIndex(new StoreImageIO(store), root, `image ${source}`)));
    } else if (isManifestMediaType(root.mediaType)) {
      const image = await readImage(store, root, undefined, source);
      children.push({ mediaType: root.mediaType, digest: root.digest, size: root.size, platform: configPlatform(image.config) });
    } else {
      throw unsupportedMediaType(root.mediaType, source);
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
  const blob = await store.content.writeJson(imageIndex([...byPlatform.values()].map((entry) => entry.descriptor), { annotations }));
  const descriptor: Descriptor = { mediaType: MediaType.ociIndex, digest: blob.digest, size: blob.size };
  await store.refs.set(target, descriptor);
  return descriptor;
}
