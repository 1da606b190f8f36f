/**
 * The image graph: reading an image's documents from any ImageSource (store, registry, OCI layout,
 * docker archive) through the validating parsers, and the questions every command asks of them — the
 * platform images of an index, the platform of a config, the layers of a manifest with their diff IDs.
 * Each is answered here once, so that copy, GC, save/load, push/pull and `images` agree.
 */
import { GantryError, quoteForMessage, type Digest } from '../util/index.js';
import { formatPlatform, platformMatchRank } from './platform.js';
import type { ImageSource } from './copy.js';
import { isImageConfigMediaType, MAX_CONFIG_BYTES, parseImageConfig, parseManifestOrIndex, type ParsedDocument } from './documents.js';
import { isManifestMediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from './types.js';

/** Reads and checks the manifest or index `descriptor` names. */
export async function readDocument(source: ImageSource, descriptor: Descriptor, what: string = `${source.description}: ${descriptor.digest}`): Promise<ParsedDocument> {
  return parseManifestOrIndex(descriptor, await source.getManifest(descriptor), what);
}

/** Reads and checks an image manifest (an index where a manifest is expected is an error). */
export async function readManifest(source: ImageSource, descriptor: Descriptor, what: string = `${source.description}: manifest ${descriptor.digest}`): Promise<ImageManifest> {
  const doc = await readDocument(source, descriptor, what);
  if (doc.kind !== 'manifest') throw new GantryError(`${what} is an image index, not a manifest`);
  return doc.manifest;
}

/** Reads and checks an image index. */
export async function readIndex(source: ImageSource, descriptor: Descriptor, what: string = `${source.description}: index ${descriptor.digest}`): Promise<ImageIndex> {
  const doc = await readDocument(source, descriptor, what);
  if (doc.kind !== 'index') throw new GantryError(`${what} is an image manifest, not an index`);
  return doc.index;
}

/**
 * Reads and checks a manifest's image config. A manifest whose config is not a container image
 * config (an artifact: a signature, an SBOM) is refused with `what` in the message.
 */
export async function readImageConfig(source: ImageSource, manifest: ImageManifest, what: string): Promise<ImageConfig> {
  if (!isImageConfigMediaType(manifest.config.mediaType)) {
    throw new GantryError(`${what} is not a container image: its config is ${quoteForMessage(manifest.config.mediaType)}`);
  }
  const bytes = await readBlobBounded(source, manifest.config, MAX_CONFIG_BYTES, `${what}: config ${manifest.config.digest}`);
  return parseImageConfig(bytes, `${what}: config ${manifest.config.digest}`);
}

/** A small blob read whole; one larger than `limit` (by its descriptor or its bytes) is refused before it is read. */
export async function readBlobBounded(source: ImageSource, descriptor: Descriptor, limit: number, what: string): Promise<Buffer> {
  if (descriptor.size > limit) throw new GantryError(`${what} is ${descriptor.size} bytes, more than the ${limit} it may have`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of await source.openBlob(descriptor)) {
    size += chunk.length;
    if (size > limit) throw new GantryError(`${what} is more than the ${limit} bytes it may have`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** The platform an image config states. */
export function configPlatform(config: Pick<ImageConfig, 'os' | 'architecture' | 'variant'>): Platform {
  return config.variant ? { os: config.os, architecture: config.architecture, variant: config.variant } : { os: config.os, architecture: config.architecture };
}

/**
 * The platform images of an index: manifests with a platform, leaving out attestation manifests
 * (BuildKit lists them as `unknown/unknown`) and artifacts.
 */
export function platformImages(index: ImageIndex): Descriptor[] {
  return index.manifests.filter((m) => isManifestMediaType(m.mediaType) && m.platform !== undefined && m.platform.architecture !== 'unknown');
}

/** The platform image of an index for `platform` (the best match, containerd's ranking), or its first one without a platform asked for. */
export function choosePlatformManifest(index: ImageIndex, platform: Platform | undefined, what: string): Descriptor {
  const candidates = platformImages(index);
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

export interface ImageLayer {
  /** The layer blob as the manifest lists it. */
  descriptor: Descriptor;
  /** Its uncompressed digest, from the config's rootfs.diff_ids. */
  diffId: Digest;
}

/** A manifest's layers paired with the config's diff IDs; a count that differs is an error. */
export function imageLayers(manifest: ImageManifest, config: ImageConfig, what: string): ImageLayer[] {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new GantryError(`${what}: its manifest lists ${manifest.layers.length} layers but its config has ${diffIds.length} diff IDs`, {
      hint: 'the image is malformed or was altered; nothing of it was used',
    });
  }
  return manifest.layers.map((descriptor, i) => ({ descriptor, diffId: diffIds[i]! }));
}

export interface GraphNode {
  descriptor: Descriptor;
  doc: ParsedDocument;
  /** For a referrer reached through `referrers`: the manifest or index it refers to. */
  referrerOf?: Descriptor;
}

export interface WalkOptions {
  /** Also visit the referrers of every manifest and index visited, and theirs (from sources that list them). */
  referrers?: boolean;
  /** Names the image in messages. */
  what?: string;
  /**
   * Called for a document that cannot be read or parsed; the walk then goes on without it. Without
   * it, such a document ends the walk with its error.
   */
  onUnreadable?: (descriptor: Descriptor, err: unknown) => void;
}

/**
 * The one walk of an image graph: visits `root` and every manifest and index below it, each parent
 * before its children, each document once, and with `referrers` the referrers of each. `visit` may
 * return 'skip' to leave a node's children (and referrers) out. Blobs (configs, layers) are not
 * visited: they are the `config` and `layers` of the manifests visited.
 */
export async function walkImage(source: ImageSource, root: Descriptor, visit: (node: GraphNode) => Promise<void | 'skip'> | void | 'skip', options: WalkOptions = {}): Promise<void> {
  const seen = new Set<Digest>();
  const what = options.what ?? source.description;
  const step = async (descriptor: Descriptor, referrerOf: Descriptor | undefined): Promise<void> => {
    if (seen.has(descriptor.digest)) return;
    seen.add(descriptor.digest);
    let doc: ParsedDocument;
    try {
      doc = await readDocument(source, descriptor, `${what}: ${descriptor.digest}`);
    } catch (err) {
      if (!options.onUnreadable) throw err;
      options.onUnreadable(descriptor, err);
      return;
    }
    if ((await visit({ descriptor, doc, ...(referrerOf ? { referrerOf } : {}) })) === 'skip') return;
    if (doc.kind === 'index') for (const child of doc.index.manifests) await step(child, undefined);
    if (options.referrers && source.listReferrers) {
      for (const referrer of await source.listReferrers(descriptor.digest)) await step(referrer, descriptor);
    }
  };
  await step(root, undefined);
}

/**
 * Checks every image under `root` (a manifest or an index, recursively): each document parses, and
 * each container image's config parses and has a diff ID for every layer. Loads and pulls run it
 * before naming what they stored, so a malformed image is refused at the door rather than failing
 * later in inspect, run or build. Returns the config digests of the images, in order.
 */
export async function checkImages(source: ImageSource, root: Descriptor, what: string): Promise<Digest[]> {
  const configs: Digest[] = [];
  await walkImage(
    source,
    root,
    async ({ descriptor, doc }) => {
      if (doc.kind !== 'manifest' || !isImageConfigMediaType(doc.manifest.config.mediaType)) return;
      const where = `${what}: ${descriptor.digest}`;
      imageLayers(doc.manifest, await readImageConfig(source, doc.manifest, where), where);
      configs.push(doc.manifest.config.digest);
    },
    { what },
  );
  return configs;
}

/** The manifest or index a document names as its subject (it is then one of that one's referrers). */
export function subjectOf(doc: ParsedDocument): Descriptor | undefined {
  return doc.kind === 'index' ? doc.index.subject : doc.manifest.subject;
}

/**
 * The descriptor a referrers list holds for a manifest or index: with its artifactType (for a manifest
 * without one, its config's media type, as the distribution spec says) and its annotations.
 */
export function referrerDescriptor(descriptor: Descriptor, doc: ParsedDocument): Descriptor {
  const artifactType = doc.kind === 'index' ? doc.index.artifactType : (doc.manifest.artifactType ?? doc.manifest.config.mediaType);
  const annotations = doc.kind === 'index' ? doc.index.annotations : doc.manifest.annotations;
  const result: Descriptor = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
  if (artifactType) result.artifactType = artifactType;
  if (annotations && Object.keys(annotations).length > 0) result.annotations = annotations;
  return result;
}
