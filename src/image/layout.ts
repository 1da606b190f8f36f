/**
 * OCI image layouts (image-spec image-layout.md) as a directory or a tar: `oci-layout`, `index.json`
 * naming the images, and every blob under `blobs/sha256/`. OciLayoutSink writes one — blobs as the copy
 * loop hands them over, index.json last — and OciLayoutSource reads one written by any tool.
 *
 * An image's name is recorded as containerd does, the full name in `io.containerd.image.name`, and as
 * gantry's own store does, the familiar name ("app:1.0") in `org.opencontainers.image.ref.name`, so that
 * `skopeo inspect oci:DIR:app:1.0` and `umoci unpack --image DIR:app:1.0` find it.
 *
 * Referrers (manifests with a subject: signatures, SBOMs) are listed in index.json without a name, as
 * other OCI tools keep them in a layout, and read back as the referrers of their subject.
 */
import { createHash } from 'node:crypto';
import { GantryError, quoteForMessage, checkDigest, digestHex, hashToDigest, sha256, type Digest } from '../util/index.js';
import { checkDescriptor, imageIndex, MAX_MANIFEST_BYTES, parseManifestOrIndex } from './documents.js';
import { readDocument, referrerDescriptor, subjectOf } from './graph.js';
import { type ArchiveFiles, readArchiveFile, readArchiveJson } from './archive-files.js';
import type { ArchiveWriter } from './archive-writer.js';
import type { BlobStream, ImageSink, ImageSource } from './copy.js';
import { imageNameFrom, nameFromAnnotations, namedDescriptor, withoutNames } from './names.js';
import { Annotation, isIndexMediaType, isManifestMediaType, type Descriptor, type ImageIndex } from './types.js';

export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
export const OCI_LAYOUT_VERSION = '1.0.0';

/** An image of an archive: its root (a manifest or an index) and the full names it carries. */
export interface ArchiveImage {
  root: Descriptor;
  /** Full normalized names, e.g. "docker.io/library/app:1.0". */
  names: string[];
}

/** Where a blob lives in an OCI layout. */
export function layoutBlobPath(digest: string): string {
  return `blobs/sha256/${digestHex(checkDigest(digest, 'blob'))}`;
}

/**
 * Writes an OCI image layout through an ArchiveWriter. Use it as the copy loop's sink, name each copied
 * root with `addImage`, then `commit` (which writes index.json) — or `abort`.
 */
export class OciLayoutSink implements ImageSink {
  readonly description: string;
  protected readonly images: ArchiveImage[] = [];
  /** Referrers copied in, listed unnamed in index.json. */
  private readonly referrers: Descriptor[] = [];

  /** `existing` is the index.json of a directory layout being added to; its other images are kept. */
  constructor(
    protected readonly writer: ArchiveWriter,
    private readonly existing: ImageIndex | undefined = undefined,
    kind = 'OCI layout',
  ) {
    this.description = `${kind} ${writer.destination}`;
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.writer.has(layoutBlobPath(descriptor.digest));
  }

  async putBlob(descriptor: Descriptor, open: () => Promise<BlobStream>): Promise<void> {
    await this.writer.addFile(layoutBlobPath(descriptor.digest), { size: descriptor.size, digest: descriptor.digest }, open);
  }

  async hasManifest(descriptor: Descriptor): Promise<boolean> {
    return this.hasBlob(descriptor);
  }

  async putManifest(descriptor: Descriptor, bytes: Uint8Array, tag?: string): Promise<void> {
    const digest = sha256(bytes);
    if (digest !== descriptor.digest || bytes.length !== descriptor.size) {
      throw new GantryError(`manifest ${descriptor.digest} does not match its content (${digest}, ${bytes.length} bytes)`);
    }
    const path = layoutBlobPath(descriptor.digest);
    if (!(await this.writer.has(path))) await this.writer.addBytes(path, bytes);
    const doc = parseManifestOrIndex(descriptor, bytes, `${this.description}: ${descriptor.digest}`);
    if (subjectOf(doc) && !this.referrers.some((r) => r.digest === descriptor.digest)) this.referrers.push(referrerDescriptor(descriptor, doc));
    if (tag) this.addImage(descriptor, [tag]);
  }

  /** Lists `root` in index.json under each of `names` (full or familiar), or unnamed when there are none. */
  addImage(root: Descriptor, names: string[]): void {
    const full = names.map((name) => {
      const normalized = imageNameFrom(name);
      if (!normalized) throw new GantryError(`cannot name an image "${name}" in an archive`, { hint: 'names need a tag, e.g. app:latest' });
      return normalized;
    });
    const known = this.images.find((image) => image.root.digest === root.digest);
    if (known) known.names.push(...full.filter((name) => !known.names.includes(name)));
    else this.images.push({ root: withoutNames(root), names: [...new Set(full)] });
  }

  /** index.json: earlier images kept unless a new image takes their name, then the new ones in order. */
  protected indexDocument(): ImageIndex {
    const entries: Descriptor[] = [];
    for (const image of this.images) {
      if (image.names.length === 0) entries.push(image.root);
      for (const name of image.names) entries.push(namedDescriptor(image.root, name));
    }
    for (const referrer of this.referrers) if (!entries.some((entry) => entry.digest === referrer.digest)) entries.push(referrer);
    const taken = new Set(entries.map((entry) => entry.annotations?.[Annotation.refName]).filter((name) => name !== undefined));
    const digests = new Set(entries.filter((entry) => !entry.annotations?.[Annotation.refName]).map((entry) => entry.digest));
    const kept = (this.existing?.manifests ?? []).filter((entry) => {
      const refName = entry.annotations?.[Annotation.refName];
      return refName ? !taken.has(refName) : !digests.has(entry.digest);
    });
    return imageIndex([...kept, ...entries]);
  }

  /** Files written after every blob, just before index.json (a docker archive's manifest.json). */
  protected async writeExtraFiles(): Promise<void> {}

  async commit(): Promise<void> {
    if (this.images.length === 0) throw new Error('an image archive must hold at least one image');
    if (!this.existing) await this.writer.addBytes(OCI_LAYOUT_FILE, Buffer.from(JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION })));
    await this.writeExtraFiles();
    await this.writer.addBytes(INDEX_FILE, Buffer.from(JSON.stringify(this.indexDocument())));
    await this.writer.commit();
  }

  async abort(): Promise<void> {
    await this.writer.abort();
  }
}

/** Checks a directory's `oci-layout`/`index.json` before images are added to it; undefined when it holds no layout yet. */
export async function existingLayoutIndex(files: ArchiveFiles): Promise<ImageIndex | undefined> {
  const hasLayout = (await files.fileSize(OCI_LAYOUT_FILE)) !== undefined;
  const hasIndex = (await files.fileSize(INDEX_FILE)) !== undefined;
  if (!hasLayout && !hasIndex) {
    const names = await files.topLevelNames();
    if (names.length > 0) {
      throw new GantryError(`${files.path} is not empty and not an OCI image layout (it holds ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''})`, {
        hint: 'write the layout to a new or empty directory, or to a tar file (a path without a trailing "/")',
      });
    }
    return undefined;
  }
  await checkLayoutVersion(files);
  return readIndex(files);
}

async function checkLayoutVersion(files: ArchiveFiles): Promise<void> {
  if ((await files.fileSize(OCI_LAYOUT_FILE)) === undefined) return;
  const layout = (await readArchiveJson(files, OCI_LAYOUT_FILE)) as { imageLayoutVersion?: unknown } | null;
  if (layout?.imageLayoutVersion !== OCI_LAYOUT_VERSION) {
    throw new GantryError(`${files.path}: unsupported OCI layout version ${quoteForMessage(layout?.imageLayoutVersion)}`, {
      hint: `gantry reads and writes image layout version ${OCI_LAYOUT_VERSION}`,
    });
  }
}

async function readIndex(files: ArchiveFiles): Promise<ImageIndex> {
  const index = (await readArchiveJson(files, INDEX_FILE)) as Partial<ImageIndex> | null;
  if (typeof index !== 'object' || index === null || !Array.isArray(index.manifests)) {
    throw new GantryError(`${files.path}: ${INDEX_FILE} is not an OCI image index`, { hint: 'it must have a "manifests" list of descriptors' });
  }
  index.manifests.forEach((entry, i) => checkDescriptor(entry, `${files.path}: ${INDEX_FILE} entry ${i + 1}`));
  return index as ImageIndex;
}

/** Passes a blob's bytes through, failing with a message naming the archive file if they are not the blob. */
async function* verifiedBlob(chunks: AsyncIterable<Uint8Array>, descriptor: Descriptor, what: string): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    hash.update(chunk);
    yield chunk;
  }
  const digest = hashToDigest(hash);
  if (digest !== descriptor.digest || size !== descriptor.size) {
    throw blobMismatch(what, descriptor, digest, size);
  }
}

function blobMismatch(what: string, descriptor: Descriptor, digest: Digest, size: number): GantryError {
  return new GantryError(
    `${what} does not match its digest: expected ${descriptor.digest} (${descriptor.size} bytes), got ${digest} (${size} bytes)`,
    { hint: 'the archive is corrupt or was altered; nothing was loaded' },
  );
}

/** An OCI image layout (directory or tar) as a source of the copy loop. */
export class OciLayoutSource implements ImageSource {
  readonly description: string;

  /** Referrers listed (unnamed) in index.json, by subject digest. */
  private readonly referrers = new Map<Digest, Descriptor[]>();

  private constructor(
    private readonly files: ArchiveFiles,
    /** The images index.json lists, one per root digest, with their names. */
    readonly images: ArchiveImage[],
    /** Names in index.json that are not image names, so their images load unnamed. */
    readonly unusableNames: string[],
  ) {
    this.description = `OCI layout ${files.path}`;
  }

  static async open(files: ArchiveFiles): Promise<OciLayoutSource> {
    await checkLayoutVersion(files);
    const index = await readIndex(files);
    const images: ArchiveImage[] = [];
    const unusable: string[] = [];
    const source = new OciLayoutSource(files, images, unusable);
    // An unnamed entry with a subject is a referrer of it; any other entry is an image, named or not.
    const referrerDigests = new Set<Digest>();
    for (const entry of index.manifests) {
      if (nameFromAnnotations(entry) || !(isIndexMediaType(entry.mediaType) || isManifestMediaType(entry.mediaType))) continue;
      const subject = subjectOf(await readDocument(source, entry));
      if (!subject) continue;
      referrerDigests.add(entry.digest);
      source.referrers.set(subject.digest, [...(source.referrers.get(subject.digest) ?? []), withoutNames(entry)]);
    }
    for (const entry of index.manifests) {
      const name = nameFromAnnotations(entry, unusable);
      if (!name && referrerDigests.has(entry.digest)) continue;
      let image = images.find((known) => known.root.digest === entry.digest);
      if (!image) {
        image = { root: withoutNames(entry), names: [] };
        images.push(image);
      }
      if (name && !image.names.includes(name)) image.names.push(name);
    }
    return source;
  }

  async listReferrers(subject: Digest): Promise<Descriptor[]> {
    return this.referrers.get(subject) ?? [];
  }

  private blobWhat(descriptor: Descriptor): string {
    return `${this.files.path}: blob ${layoutBlobPath(descriptor.digest)}`;
  }

  async getManifest(descriptor: Descriptor): Promise<Uint8Array> {
    const path = layoutBlobPath(descriptor.digest);
    if ((await this.files.fileSize(path)) === undefined) throw this.missing(descriptor);
    const bytes = await readArchiveFile(this.files, path, MAX_MANIFEST_BYTES);
    const digest = sha256(bytes);
    if (digest !== descriptor.digest || bytes.length !== descriptor.size) throw blobMismatch(this.blobWhat(descriptor), descriptor, digest, bytes.length);
    return bytes;
  }

  async openBlob(descriptor: Descriptor): Promise<BlobStream> {
    const path = layoutBlobPath(descriptor.digest);
    if ((await this.files.fileSize(path)) === undefined) throw this.missing(descriptor);
    return verifiedBlob(await this.files.open(path), descriptor, this.blobWhat(descriptor));
  }

  private missing(descriptor: Descriptor): GantryError {
    return new GantryError(`${this.files.path}: blob ${descriptor.digest} (${descriptor.mediaType}) is missing: there is no ${layoutBlobPath(descriptor.digest)}`, {
      hint: 'the archive is incomplete; nothing was loaded',
    });
  }
}
