/**
 * Docker archives: what `docker save` writes and `docker load` reads.
 *
 * Written in the combined layout of Docker 25+: an OCI image layout plus `manifest.json` (one item per
 * image: Config, RepoTags, Layers as paths into blobs/sha256/) and `repositories`. Docker 20.10's load
 * reads only manifest.json: it extracts the whole tar, so paths under blobs/ are fine, decompresses
 * layers with gzip, bzip2 or xz (not zstd), and checks each layer's diff ID against the config — so the
 * store's gzip layers go in unchanged and manifest digests survive a save/load round trip.
 *
 * Read from any docker save (20.10's `<id>/layer.tar` and `<hex>.json`, skopeo's `<hex>.tar`, 25+'s
 * blobs/): layers that are not gzip or zstd are compressed with gzip on the way in, and an OCI
 * manifest is written for each image with layer digests that match, keeping the config and its diff IDs.
 */
import { Writable } from 'node:stream';
import type { BlobStore } from './blob-store.js';
import { GantryError, isGantryError, quoteForMessage, digestHex, sha256, type Digest } from '../util/index.js';
import { type ArchiveFiles, readArchiveFile, readArchiveHead, readArchiveJson } from './archive-files.js';
import type { ArchiveWriter } from './archive-writer.js';
import { compressLayer } from './compress.js';
import type { BlobStream, ImageSource } from './copy.js';
import { COMPRESSION_MAGIC_LENGTH, decompressLayer, detectCompression, uncompressedDigest } from './decompress.js';
import { imageManifest, isImageConfigMediaType, parseImageConfig, parseManifestOrIndex } from './documents.js';
import { configPlatform, platformImages, subjectOf } from './graph.js';
import { OciLayoutSink, layoutBlobPath, type ArchiveImage } from './layout.js';
import { imageNameFrom } from './names.js';
import { formatPlatform } from './platform.js';
import { familiarReference, parseReference } from './reference.js';
import {
  MediaType,
  isManifestMediaType,
  type Descriptor,
  type ImageManifest,
  type Platform,
} from './types.js';

export const DOCKER_MANIFEST_FILE = 'manifest.json';
export const REPOSITORIES_FILE = 'repositories';

/** One image in manifest.json, field names as Docker writes them. */
export interface DockerManifestItem {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
  Parent?: string;
  LayerSources?: Record<string, Descriptor>;
}

/** The error for a multi-platform image headed for a docker archive. */
export function multiPlatformError(what: string, platforms: Platform[]): GantryError {
  const listed = platforms.map(formatPlatform);
  const which = listed.length > 0 ? ` (${listed.join(', ')})` : '';
  return new GantryError(`${what} is a multi-platform image${which}; a docker archive holds one platform per image`, {
    hint: `choose one with --platform${listed[0] ? `, e.g. --platform ${listed[0]}` : ''}, or write an OCI archive, which keeps every platform`,
  });
}

/** Refuses what Docker 20.10's load cannot read: artifacts that are not container images, layers it cannot decompress. */
export function checkDockerLoadable(manifest: ImageManifest, what: string): void {
  if (!isImageConfigMediaType(manifest.config.mediaType)) {
    throw new GantryError(`${what} is not a container image (its config is ${manifest.config.mediaType}); a docker archive holds container images only`, {
      hint: 'write an OCI archive instead',
    });
  }
  for (const layer of manifest.layers) {
    if (layer.mediaType.includes('zstd')) {
      throw new GantryError(`${what} has zstd-compressed layers, which docker load of engine 20.10 cannot read`, {
        hint: 'write an OCI archive instead, or pull or build the image with gzip layers',
      });
    }
  }
}

/** Writes a docker archive (combined with an OCI layout); every image must be a single-platform manifest. */
export class DockerArchiveSink extends OciLayoutSink {
  private readonly manifests = new Map<Digest, ImageManifest>();
  /** Config bytes seen on their way into the archive: manifest.json and repositories need their diff IDs. */
  private readonly configs = new Map<Digest, Buffer>();

  constructor(writer: ArchiveWriter) {
    super(writer, undefined, 'docker archive');
  }

  override async putBlob(descriptor: Descriptor, open: () => Promise<BlobStream>): Promise<void> {
    if (!isImageConfigMediaType(descriptor.mediaType)) return super.putBlob(descriptor, open);
    const parts: Buffer[] = [];
    const configs = this.configs;
    await super.putBlob(descriptor, async () => {
      const source = await open();
      return (async function* () {
        for await (const chunk of source) {
          parts.push(Buffer.from(chunk));
          yield chunk;
        }
        configs.set(descriptor.digest, Buffer.concat(parts));
      })();
    });
  }

  override async putManifest(descriptor: Descriptor, bytes: Uint8Array, tag?: string): Promise<void> {
    const what = tag ?? descriptor.digest;
    const doc = parseManifestOrIndex(descriptor, bytes, what);
    // Referrers (signatures, SBOMs) travel in the archive's OCI part; docker load ignores them.
    if (subjectOf(doc)) return super.putManifest(descriptor, bytes, tag);
    if (doc.kind === 'index') throw multiPlatformError(what, platformImages(doc.index).map((m) => m.platform as Platform));
    const manifest = doc.manifest;
    checkDockerLoadable(manifest, what);
    this.manifests.set(descriptor.digest, manifest);
    await super.putManifest(descriptor, bytes, tag);
  }

  override addImage(root: Descriptor, names: string[]): void {
    if (!isManifestMediaType(root.mediaType)) throw multiPlatformError(names[0] ?? root.digest, []);
    super.addImage(root, names);
  }

  protected override async writeExtraFiles(): Promise<void> {
    const items: DockerManifestItem[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const image of this.images) {
      const manifest = this.manifests.get(image.root.digest);
      const configBytes = manifest && this.configs.get(manifest.config.digest);
      if (!manifest || !configBytes) throw new Error(`docker archive: image ${image.root.digest} was named before its content was written`);
      const config = parseImageConfig(configBytes, `image ${image.root.digest}: config`);
      const repoTags = image.names.map((name) => familiarReference(parseReference(name)));
      items.push({
        Config: layoutBlobPath(manifest.config.digest),
        RepoTags: repoTags.length > 0 ? repoTags : null,
        Layers: manifest.layers.map((layer) => layoutBlobPath(layer.digest)),
      });
      const top = config.rootfs.diff_ids.at(-1);
      for (const name of image.names) {
        const ref = parseReference(name);
        if (!top || ref.tag === undefined) continue;
        const repository = familiarReference({ ...ref, tag: undefined });
        repositories[repository] = { ...repositories[repository], [ref.tag]: digestHex(top) };
      }
    }
    await this.writer.addBytes(DOCKER_MANIFEST_FILE, Buffer.from(JSON.stringify(items)));
    if (Object.keys(repositories).length > 0) await this.writer.addBytes(REPOSITORIES_FILE, Buffer.from(JSON.stringify(repositories)));
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Reads and checks manifest.json. */
export async function readDockerManifest(files: ArchiveFiles): Promise<DockerManifestItem[]> {
  const items = await readArchiveJson(files, DOCKER_MANIFEST_FILE);
  const bad = (why: string): GantryError =>
    new GantryError(`${files.path}: ${DOCKER_MANIFEST_FILE} is not a docker archive manifest: ${why}`, { hint: 'the archive is corrupt or was not written by docker save' });
  if (!Array.isArray(items)) throw bad('expected a list of images');
  if (items.length === 0) throw bad('it lists no images');
  items.forEach((item: unknown, i) => {
    const it = item as Partial<DockerManifestItem> | null;
    if (typeof it?.Config !== 'string') throw bad(`image ${i + 1} has no Config path`);
    if (!isStringArray(it.Layers)) throw bad(`image ${i + 1} has no Layers list`);
    if (it.RepoTags !== undefined && it.RepoTags !== null && !isStringArray(it.RepoTags)) throw bad(`image ${i + 1} has a malformed RepoTags list`);
  });
  return items as DockerManifestItem[];
}

/** The digest of the config file an item refers to (its image ID). */
export async function dockerItemConfigDigest(files: ArchiveFiles, item: DockerManifestItem): Promise<Digest> {
  return sha256(await readConfigFile(files, item));
}

async function readConfigFile(files: ArchiveFiles, item: DockerManifestItem): Promise<Buffer> {
  if ((await files.fileSize(item.Config)) === undefined) {
    throw new GantryError(`${files.path}: ${DOCKER_MANIFEST_FILE} refers to the image config ${quoteForMessage(item.Config, 200)}, which is not in the archive`, {
      hint: 'the archive is incomplete or corrupt; nothing was loaded',
    });
  }
  return readArchiveFile(files, item.Config);
}

/** Full names from RepoTags; a name Docker itself would refuse is an error naming it. */
export function dockerItemNames(files: ArchiveFiles, item: DockerManifestItem): string[] {
  return (item.RepoTags ?? []).map((tag) => {
    const name = imageNameFrom(tag);
    if (!name) throw new GantryError(`${files.path}: ${DOCKER_MANIFEST_FILE} names an image ${quoteForMessage(tag, 200)}, which is not a valid name:tag`);
    return name;
  });
}

function blobWritable(write: (chunk: Uint8Array) => Promise<void>): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      write(chunk).then(() => done(), done);
    },
  });
}

interface ConvertedLayer {
  descriptor: Descriptor;
}

/**
 * Images of a docker archive, turned into OCI images in `content` as they are read: configs as they are,
 * layers verified against their diff IDs (and gzip-compressed when they are not gzip or zstd already),
 * an OCI manifest written for each. The ImageSource then serves them from `content`.
 */
export class DockerArchiveSource implements ImageSource {
  readonly description: string;

  private constructor(
    files: ArchiveFiles,
    private readonly content: BlobStore,
    readonly images: ArchiveImage[],
  ) {
    this.description = `docker archive ${files.path}`;
  }

  static async convert(files: ArchiveFiles, items: DockerManifestItem[], content: BlobStore): Promise<DockerArchiveSource> {
    const converter = new DockerImageConverter(files, content);
    const images: ArchiveImage[] = [];
    for (const item of items) images.push(await converter.convert(item));
    return new DockerArchiveSource(files, content, images);
  }

  async getManifest(descriptor: Descriptor): Promise<Uint8Array> {
    return this.content.readBytes(descriptor.digest);
  }

  async openBlob(descriptor: Descriptor): Promise<BlobStream> {
    return this.content.openRead(descriptor.digest);
  }
}

class DockerImageConverter {
  /** Layers already converted, by archive path and diff ID. */
  private readonly layers = new Map<string, ConvertedLayer>();

  constructor(
    private readonly files: ArchiveFiles,
    private readonly content: BlobStore,
  ) {}

  private fail(message: string): GantryError {
    return new GantryError(`${this.files.path}: ${message}`, { hint: 'the archive is corrupt or incomplete; nothing was loaded' });
  }

  async convert(item: DockerManifestItem): Promise<ArchiveImage> {
    const names = dockerItemNames(this.files, item);
    const configBytes = await readConfigFile(this.files, item);
    const config = parseImageConfig(configBytes, `${this.files.path}: the image config ${item.Config}`);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== item.Layers.length) {
      throw this.fail(`${DOCKER_MANIFEST_FILE} lists ${item.Layers.length} layers for ${item.Config}, but its config has ${diffIds.length} diff IDs`);
    }
    const configBlob = await this.content.writeBytes(configBytes);
    const layers: Descriptor[] = [];
    for (const [i, path] of item.Layers.entries()) layers.push((await this.layer(path, diffIds[i]!)).descriptor);
    const manifest = imageManifest({ mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size }, layers);
    const manifestBlob = await this.content.writeJson(manifest);
    return { root: { mediaType: MediaType.ociManifest, digest: manifestBlob.digest, size: manifestBlob.size, platform: configPlatform(config) }, names };
  }

  private async layer(path: string, diffId: Digest): Promise<ConvertedLayer> {
    const key = `${diffId} ${path}`;
    const known = this.layers.get(key);
    if (known) return known;
    if ((await this.files.fileSize(path)) === undefined) {
      throw this.fail(`${DOCKER_MANIFEST_FILE} refers to the layer ${quoteForMessage(path, 200)}, which is not in the archive`);
    }
    const format = detectCompression(await readArchiveHead(this.files, path, COMPRESSION_MAGIC_LENGTH));
    const converted = format === 'gzip' || format === 'zstd' ? await this.keepCompressed(path, diffId, format) : await this.compress(path, diffId, format === 'none');
    this.layers.set(key, converted);
    return converted;
  }

  private diffIdMismatch(path: string, expected: Digest, actual: Digest): GantryError {
    return this.fail(`the layer ${path} does not match its diff ID in the image config: expected ${expected}, got ${actual}`);
  }

  /** Stores a gzip or zstd layer as it is, once its content is checked against the diff ID. */
  private async keepCompressed(path: string, diffId: Digest, format: 'gzip' | 'zstd'): Promise<ConvertedLayer> {
    const blob = await this.content.ingest(await this.files.open(path));
    let actual: Digest;
    try {
      actual = await uncompressedDigest(await this.content.openRead(blob.digest), path);
    } catch (err) {
      await this.content.delete(blob.digest);
      if (isGantryError(err)) throw this.fail(err.message);
      throw err;
    }
    if (actual !== diffId) {
      await this.content.delete(blob.digest);
      throw this.diffIdMismatch(path, diffId, actual);
    }
    const mediaType = format === 'gzip' ? MediaType.ociLayerGzip : MediaType.ociLayerZstd;
    return { descriptor: { mediaType, digest: blob.digest, size: blob.size } };
  }

  /** Compresses a layer with gzip (after decompressing it when it is xz or bzip2), checking its diff ID on the way. */
  private async compress(path: string, diffId: Digest, plain: boolean): Promise<ConvertedLayer> {
    const raw = await this.files.open(path);
    const writer = await this.content.writer();
    let result;
    try {
      result = await compressLayer(plain ? raw : decompressLayer(raw, path), blobWritable((chunk) => writer.write(chunk)));
    } catch (err) {
      await writer.abort();
      if (isGantryError(err)) throw this.fail(err.message);
      throw err;
    }
    if (result.diffId !== diffId) {
      await writer.abort();
      throw this.diffIdMismatch(path, diffId, result.diffId);
    }
    const blob = await writer.commit({ digest: result.digest, size: result.size });
    return { descriptor: { mediaType: result.mediaType, digest: blob.digest, size: blob.size } };
  }
}
