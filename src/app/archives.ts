/**
 * Image archives and the local store: `save` (images of the store into an OCI layout or a docker
 * archive), build outputs of type oci and docker (the same sinks, for one built image), and `load`
 * (any archive into the store); the use cases hold a session, the functions under them take a store.
 *
 * A load is all or nothing: content is copied into a private staging area of the store (every blob
 * verified against its digest on the way), and only once every image is complete are the blobs moved
 * into the store and the names written, in one update of index.json. A failed load leaves the store as it was.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ContentStore, StoreImageIO, findLocalImage, type NamedImage, type Store } from '../store/index.js';
import { GantryError, errnoCode, quoteForMessage, pathExists, type Digest } from '../util/index.js';
import { openArchiveFiles, type ArchiveFiles, DirectoryArchiveWriter, TarArchiveWriter, copyImage, type BlobStream, type CopyProgress, type ImageSink, type ImageSource, MAX_MANIFEST_BYTES, parseManifestOrIndex, checkImages, choosePlatformManifest, configPlatform, platformImages, readImageConfig, readIndex, readManifest, referrerDescriptor, subjectOf, DOCKER_MANIFEST_FILE, DockerArchiveSink, DockerArchiveSource, checkDockerLoadable, dockerItemConfigDigest, dockerItemNames, multiPlatformError, readDockerManifest, type DockerManifestItem, INDEX_FILE, OciLayoutSink, OciLayoutSource, existingLayoutIndex, type ArchiveImage, formatPlatform, platformMatches, familiarReference, parseReference, isIndexMediaType, isManifestMediaType, type Descriptor, type ImageIndex, type Platform } from '../image/index.js';
import { withStore, type StoreAccess } from './session.js';
import { unpackForThisMachine } from './unpack.js';

export type ArchiveFormat = 'docker' | 'oci';

export interface SaveOptions {
  format: ArchiveFormat;
  /**
   * A tar file; for the oci format, a directory when the path ends with "/" or is an existing
   * directory. A tar appears under this name only once complete.
   */
  output: string;
  /** Keep only this platform of multi-platform images (required for those in the docker format). */
  platform?: Platform;
  progress?: CopyProgress;
}

export interface SavedImage {
  /** Full names it was saved under (none when it was named by digest). */
  names: string[];
  /** The root written: a manifest, or an index for multi-platform images in the oci format. */
  descriptor: Descriptor;
}

/** Saves images of the store (by name or digest) into one archive. Callers hold a store session (store/session.ts), as for every function here. */
export async function saveImages(store: Store, names: string[], options: SaveOptions): Promise<SavedImage[]> {
  if (names.length === 0) throw new GantryError('no images to save', { hint: 'name at least one image' });
  const wanted: ArchiveImage[] = [];
  for (const nameOrDigest of names) {
    const found = await findLocalImage(store, nameOrDigest);
    if (!found) throw new GantryError(`no such image: ${nameOrDigest}`, { hint: 'list local images with `gantry images`' });
    const root = found.index ?? found.descriptor;
    const chosen = await selectForArchive(store, root, nameOrDigest, options.format, options.platform);
    const known = wanted.find((image) => image.root.digest === chosen.digest);
    const imageNames = found.name ? [found.name] : [];
    if (known) known.names.push(...imageNames.filter((name) => !known.names.includes(name)));
    else wanted.push({ root: chosen, names: imageNames });
  }
  return writeArchive(store, wanted, options.format, options.output, options.platform, options.progress);
}

export interface ImageOutputOptions {
  type: ArchiveFormat;
  /** As SaveOptions.output. */
  dest: string;
  /** Names to record for the image (full or familiar, with a tag). */
  names?: string[];
  platform?: Platform;
  progress?: CopyProgress;
}

/** A build's `--output type=oci|docker,dest=...`: writes one image of the store (a manifest or an index). */
export async function writeImageOutput(store: Store, root: Descriptor, options: ImageOutputOptions): Promise<SavedImage> {
  const what = options.names?.[0] ? familiarReference(parseReference(options.names[0])) : 'the built image';
  const chosen = await selectForArchive(store, root, what, options.type, options.platform);
  const [saved] = await writeArchive(store, [{ root: chosen, names: options.names ?? [] }], options.type, options.dest, options.platform, options.progress);
  return saved!;
}

/** The root to write: for a docker archive, the one platform's manifest. */
async function selectForArchive(store: Store, root: Descriptor, what: string, format: ArchiveFormat, platform: Platform | undefined): Promise<Descriptor> {
  const source = new StoreImageIO(store);
  if (isIndexMediaType(root.mediaType)) {
    if (format === 'oci') return root;
    const index = await readIndex(source, root, what);
    if (platform) return checkedForDocker(source, choosePlatformManifest(index, platform, what), what);
    const images = platformImages(index);
    if (images.length !== 1) throw multiPlatformError(what, images.map((m) => m.platform as Platform));
    return checkedForDocker(source, images[0]!, what);
  }
  if (platform) {
    const config = await readImageConfig(source, await readManifest(source, root, what), what);
    const has = configPlatform(config);
    if (!platformMatches(platform, has)) {
      throw new GantryError(`${what} has no image for platform ${formatPlatform(platform)}`, { hint: `it has: ${formatPlatform(has)}` });
    }
  }
  return format === 'docker' ? checkedForDocker(source, root, what) : root;
}

async function checkedForDocker(source: StoreImageIO, manifestDescriptor: Descriptor, what: string): Promise<Descriptor> {
  checkDockerLoadable(await readManifest(source, manifestDescriptor, what), what);
  return manifestDescriptor;
}

/** Whether `output` names a directory to write an OCI layout into. */
async function isDirectoryOutput(output: string): Promise<boolean> {
  if (output.endsWith('/')) return true;
  try {
    return (await stat(output)).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

async function createSink(store: Store, format: ArchiveFormat, output: string): Promise<OciLayoutSink> {
  if (format === 'docker') {
    if (await isDirectoryOutput(output)) {
      throw new GantryError(`${output} is a directory; a docker archive is a tar file`, { hint: 'give a file path, e.g. image.tar' });
    }
    return new DockerArchiveSink(await TarArchiveWriter.create(output));
  }
  if (!(await isDirectoryOutput(output))) return new OciLayoutSink(await TarArchiveWriter.create(output));
  let existing: ImageIndex | undefined;
  if (await pathExists(output)) {
    const files = await openArchiveFiles(output, { tmpDir: store.tmpDir });
    try {
      existing = await existingLayoutIndex(files);
    } finally {
      await files.close();
    }
  }
  return new OciLayoutSink(await DirectoryArchiveWriter.open(output), existing);
}

async function writeArchive(
  store: Store,
  images: ArchiveImage[],
  format: ArchiveFormat,
  output: string,
  platform: Platform | undefined,
  progress: CopyProgress | undefined,
): Promise<SavedImage[]> {
  const sink = await createSink(store, format, output);
  const source = new StoreImageIO(store);
  const saved: SavedImage[] = [];
  try {
    for (const image of images) {
      // For an index (oci format only), --platform keeps just that platform's images.
      const root = await copyImage(source, sink, image.root, { ...progress, platforms: platform ? [platform] : undefined, referrers: true });
      sink.addImage(root, image.names);
      saved.push({ names: image.names, descriptor: root });
    }
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
  return saved;
}

export interface LoadedImage {
  /** Full names given to it in the store (none: kept untagged). */
  names: string[];
  /** Its root in the store: a manifest or an index. */
  descriptor: Descriptor;
}

export interface LoadResult {
  /** 'oci' for OCI layouts, including Docker 25+'s combined archives; 'docker' for docker archives without index.json. */
  format: ArchiveFormat;
  images: LoadedImage[];
  /** What was not taken from the archive, one sentence each (names that are not image names). */
  warnings: string[];
}

export interface LoadOptions {
  progress?: CopyProgress;
}

/** Loads every image of an archive (OCI layout or docker archive; tar, compressed tar or directory) into the store. */
export async function loadArchive(store: Store, path: string, options: LoadOptions = {}): Promise<LoadResult> {
  let files: ArchiveFiles | undefined;
  // Named by our pid, so that prune can tell the staging area of a killed load from a running one's.
  const stagingRoot = await mkdtemp(join(store.tmpDir, `load-${process.pid}-`));
  const staging = new StagingSink(store, new ContentStore(stagingRoot));
  try {
    files = await openArchiveFiles(path, { tmpDir: store.tmpDir });
    const { format, images, warnings } = await readArchiveImages(files, staging, options.progress);
    await staging.close();
    await staging.publish(images);
    return { format, images: images.map(({ root, names }) => ({ names, descriptor: root })), warnings };
  } finally {
    await staging.close();
    await files?.close();
    await rm(stagingRoot, { recursive: true, force: true });
  }
}

/** Copies every image of the archive into `staging`; returns them with their names. */
async function readArchiveImages(
  files: ArchiveFiles,
  staging: StagingSink,
  progress: CopyProgress | undefined,
): Promise<{ format: ArchiveFormat; images: ArchiveImage[]; warnings: string[] }> {
  const hasIndex = (await files.fileSize(INDEX_FILE)) !== undefined;
  const hasDockerManifest = (await files.fileSize(DOCKER_MANIFEST_FILE)) !== undefined;
  if (!hasIndex && !hasDockerManifest) throw await unknownFormat(files);
  const items = hasDockerManifest ? await readDockerManifest(files) : [];
  if (!hasIndex) {
    const source = await DockerArchiveSource.convert(files, items, staging.content);
    for (const image of source.images) await checkImages(staging.staged, image.root, files.path);
    return { format: 'docker', images: source.images, warnings: [] };
  }

  const source = await OciLayoutSource.open(files);
  const images: ArchiveImage[] = [];
  const warnings = source.unusableNames.map((name) => `${quoteForMessage(name, 200)} in ${INDEX_FILE} is not an image name; its image was loaded without it`);
  const configs = new Map<Digest, ArchiveImage>();
  for (const image of source.images) {
    if (!isImageRoot(image.root)) {
      warnings.push(`${INDEX_FILE} lists ${image.root.digest} of type ${image.root.mediaType}, which is not an image; it was not loaded`);
      continue;
    }
    const root = await copyImage(source, staging, image.root, { ...progress, referrers: true });
    const loaded = { root, names: [...image.names] };
    images.push(loaded);
    for (const config of await checkImages(staging.staged, root, files.path)) configs.set(config, loaded);
  }
  // A combined archive's manifest.json names images by their config; an image only it lists is read the docker way.
  const dockerOnly: DockerManifestItem[] = [];
  for (const item of items) {
    const image = configs.get(await dockerItemConfigDigest(files, item));
    if (!image) {
      dockerOnly.push(item);
      continue;
    }
    for (const name of dockerItemNames(files, item)) if (!image.names.includes(name)) image.names.push(name);
  }
  if (dockerOnly.length > 0) {
    const converted = (await DockerArchiveSource.convert(files, dockerOnly, staging.content)).images;
    for (const image of converted) await checkImages(staging.staged, image.root, files.path);
    images.push(...converted);
  }
  if (images.length === 0) throw new GantryError(`${files.path} holds no images`, { hint: warnings.join('; ') || undefined });
  return { format: 'oci', images, warnings };
}

function isImageRoot(descriptor: Descriptor): boolean {
  return isIndexMediaType(descriptor.mediaType) || isManifestMediaType(descriptor.mediaType);
}

async function unknownFormat(files: ArchiveFiles): Promise<GantryError> {
  const names = await files.topLevelNames();
  if (names.includes('repositories')) {
    return new GantryError(`${files.path} is a docker archive of the format before Docker 1.10 (no ${DOCKER_MANIFEST_FILE}), which gantry does not read`, {
      hint: 'load it into a Docker engine and save it again, or convert it with skopeo',
    });
  }
  const listing = names.length === 0 ? 'it is empty' : `it holds ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}`;
  return new GantryError(`${files.path} is not an image archive of a known format: it has neither ${INDEX_FILE} (OCI image layout) nor ${DOCKER_MANIFEST_FILE} (docker archive); ${listing}`, {
    hint: 'gantry loads OCI image layouts and docker save archives, as tar files (optionally compressed) or directories',
  });
}

/**
 * The copy loop's sink for a load: blobs go into a staging content store (verified by its ingest);
 * blobs the store already has are not copied again. `publish` moves them into the store and names the images.
 */
class StagingSink implements ImageSink {
  readonly description: string;
  /** Writes under way: the copy loop does not wait for a failed copy's other blobs, but removing the staging area must. */
  private readonly writes = new Set<Promise<unknown>>();
  private closed = false;
  /** Referrers staged, recorded in the store's referrers index on publish. */
  private readonly referrers: Array<{ subject: Digest; referrer: Descriptor }> = [];

  constructor(
    private readonly store: Store,
    readonly content: ContentStore,
  ) {
    this.description = `local store ${store.root}`;
  }

  private track(write: () => Promise<unknown>): Promise<void> {
    if (this.closed) return Promise.reject(new GantryError('the load was stopped by an earlier error'));
    const running = write();
    this.writes.add(running);
    return running.then(
      () => void this.writes.delete(running),
      (err: unknown) => {
        this.writes.delete(running);
        throw err;
      },
    );
  }

  /** Refuses further writes and waits for those under way. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return (await this.store.content.has(descriptor.digest)) || (await this.content.has(descriptor.digest));
  }

  putBlob(descriptor: Descriptor, open: () => Promise<BlobStream>): Promise<void> {
    return this.track(async () => this.content.ingest(await open(), { digest: descriptor.digest, size: descriptor.size }));
  }

  async hasManifest(descriptor: Descriptor): Promise<boolean> {
    return this.hasBlob(descriptor);
  }

  putManifest(descriptor: Descriptor, bytes: Uint8Array): Promise<void> {
    const doc = parseManifestOrIndex(descriptor, bytes, `${this.description}: ${descriptor.digest}`);
    const subject = subjectOf(doc);
    if (subject) this.referrers.push({ subject: subject.digest, referrer: referrerDescriptor(descriptor, doc) });
    return this.track(() => this.content.writeBytes(bytes, { digest: descriptor.digest, size: descriptor.size }));
  }

  /** Staged content (or what the store already had), for reading back what was copied. */
  readonly staged: ImageSource = {
    description: 'the archive being loaded',
    getManifest: async (descriptor) => (await this.holder(descriptor.digest)).readBytes(descriptor.digest, MAX_MANIFEST_BYTES),
    openBlob: async (descriptor) => (await this.holder(descriptor.digest)).openRead(descriptor.digest),
  };

  private async holder(digest: Digest): Promise<ContentStore> {
    return (await this.content.has(digest)) ? this.content : this.store.content;
  }

  /** Moves the staged blobs into the store, records the referrers, then names the images (or keeps them untagged) in one index.json update. */
  async publish(images: ArchiveImage[]): Promise<void> {
    for (const digest of await this.content.list()) {
      if (!(await this.store.content.has(digest))) await this.store.content.publish(this.content.blobPath(digest), digest);
    }
    for (const { subject, referrer } of this.referrers) await this.store.referrers.add(subject, referrer);
    await this.store.refs.update((entries) => {
      let next: NamedImage[] = entries;
      for (const { root, names } of images) {
        if (names.length === 0) {
          if (!next.some((entry) => entry.descriptor.digest === root.digest)) next = [...next, { descriptor: root }];
          continue;
        }
        next = next.filter((entry) => !(entry.name !== undefined && names.includes(entry.name)) && !(entry.name === undefined && entry.descriptor.digest === root.digest));
        next.push(...names.map((name) => ({ name, descriptor: root })));
      }
      return next;
    });
  }
}

/** `save`: images of the store written to an archive, in a session. */
export async function saveToArchive(access: StoreAccess, names: string[], options: SaveOptions): Promise<SavedImage[]> {
  return withStore(access, (store) => saveImages(store, names, options));
}

/** `load`: every image of an archive into the store, then unpacked for this machine (a failure there is only a warning). */
export async function loadFromArchive(access: StoreAccess, path: string, warn: (message: string) => void): Promise<LoadResult> {
  return withStore(access, async (store) => {
    const result = await loadArchive(store, path);
    for (const image of result.images) await unpackForThisMachine(store, image.descriptor, warn);
    return result;
  });
}
