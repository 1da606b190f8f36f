/**
 * The use cases that look at and name images in the store: list, inspect, history, tag, rmi, disk
 * usage. Each answers with data; the command line decides how to print it.
 */
import { configPlatform, platformImages, readIndex, formatPlatform, familiarReference, normalizeReference, parseReference, isIndexMediaType, type Descriptor, type Platform, isImageConfigMediaType, readImageConfig, readManifest } from '../image/index.js';
import { dirSize, findLocalImage, StoreImageIO, type StoredImage, type Store } from '../store/index.js';
import { GantryError } from '../util/index.js';
import { withStore, type StoreAccess } from './session.js';

export function noSuchImage(name: string): GantryError {
  return new GantryError(`no such image: ${name}`, { hint: 'list local images with `gantry images`; build or pull it first' });
}

export interface ImageRow {
  repository: string;
  tag: string;
  id: string;
  digest: string;
  created?: string;
  size: number;
  platforms: string[];
}

/** Every named (and kept untagged) image of the store, as `docker images` lists them. */
export async function listImages(access: StoreAccess): Promise<ImageRow[]> {
  return withStore(access, async (store) => {
    const rows: ImageRow[] = [];
    for (const entry of await store.refs.list()) {
      const { repository, tag } = splitName(entry.name);
      const summary = await summarize(store, entry.descriptor);
      rows.push({ repository, tag, id: entry.descriptor.digest.slice(7, 19), digest: entry.descriptor.digest, ...summary });
    }
    return rows;
  });
}

function splitName(name: string | undefined): { repository: string; tag: string } {
  if (!name) return { repository: '<none>', tag: '<none>' };
  const familiar = familiarReference(parseReference(name));
  const colon = familiar.lastIndexOf(':');
  return colon > familiar.lastIndexOf('/') ? { repository: familiar.slice(0, colon), tag: familiar.slice(colon + 1) } : { repository: familiar, tag: '<none>' };
}

async function summarize(store: Store, descriptor: Descriptor): Promise<{ created?: string; size: number; platforms: string[] }> {
  if (isIndexMediaType(descriptor.mediaType)) {
    const children = platformImages(await readIndex(new StoreImageIO(store), descriptor));
    let size = 0;
    let created: string | undefined;
    for (const child of children) {
      if (!(await store.content.has(child.digest))) continue;
      const s = await summarize(store, child);
      size += s.size;
      created = created && s.created && created > s.created ? created : (s.created ?? created);
    }
    return { created, size, platforms: children.map((c) => formatPlatform(c.platform as Platform)) };
  }
  const source = new StoreImageIO(store);
  const manifest = await readManifest(source, descriptor, `image ${descriptor.digest}`);
  const size = manifest.layers.reduce((sum, l) => sum + l.size, manifest.config.size);
  // An artifact (a signature, an SBOM, loaded or pulled under a name) has no platform: its type is listed instead.
  if (!isImageConfigMediaType(manifest.config.mediaType)) return { size, platforms: [manifest.artifactType ?? manifest.config.mediaType] };
  const config = await readImageConfig(source, manifest, `image ${descriptor.digest}`);
  return { created: config.created, size, platforms: [formatPlatform(configPlatform(config))] };
}

/** What `gantry inspect` prints for an image, Docker's field names where Docker has them. */
export interface ImageDetails {
  Id: string;
  Digest: string;
  IndexDigest?: string;
  RepoTags: string[];
  Created?: string;
  Author?: string;
  Architecture: string;
  Os: string;
  Variant?: string;
  Platform: string;
  Size: number;
  Layers: string[];
  LayerBlobs: Array<{ Digest: string; Size: number; MediaType: string }>;
  Config: object;
  History: object[];
  Annotations?: Record<string, string>;
}

export async function inspectImages(access: StoreAccess, names: string[], platform?: Platform): Promise<ImageDetails[]> {
  return withStore(access, async (store) => {
    const result: ImageDetails[] = [];
    for (const name of names) {
      const image = await findLocalImage(store, name, platform);
      if (!image) throw noSuchImage(name);
      result.push(describe(image, await namesFor(store, image)));
    }
    return result;
  });
}

async function namesFor(store: Store, image: StoredImage): Promise<string[]> {
  const root = image.index?.digest ?? image.descriptor.digest;
  return (await store.refs.list()).filter((e) => e.name && e.descriptor.digest === root).map((e) => familiarReference(parseReference(e.name as string)));
}

function describe(image: StoredImage, repoTags: string[]): ImageDetails {
  const { config, manifest } = image;
  return {
    Id: manifest.config.digest,
    Digest: image.descriptor.digest,
    IndexDigest: image.index?.digest,
    RepoTags: repoTags,
    Created: config.created,
    Author: config.author,
    Architecture: config.architecture,
    Os: config.os,
    Variant: config.variant,
    Platform: formatPlatform(configPlatform(config)),
    Size: manifest.layers.reduce((sum, l) => sum + l.size, 0),
    Layers: config.rootfs.diff_ids,
    LayerBlobs: manifest.layers.map((l) => ({ Digest: l.digest, Size: l.size, MediaType: l.mediaType })),
    Config: config.config ?? {},
    History: config.history ?? [],
    Annotations: manifest.annotations,
  };
}

export interface HistoryRow {
  created?: string;
  createdBy: string;
  size: number;
  comment: string;
}

/** An image's history, newest first, with the size of the layer each entry made. */
export async function imageHistory(access: StoreAccess, name: string): Promise<HistoryRow[]> {
  return withStore(access, async (store) => {
    const image = await findLocalImage(store, name);
    if (!image) throw noSuchImage(name);
    const layers = [...image.manifest.layers];
    const rows = (image.config.history ?? []).map((h) => {
      const layer = h.empty_layer ? undefined : layers.shift();
      return { created: h.created, createdBy: h.created_by ?? '', size: layer?.size ?? 0, comment: h.comment ?? '' };
    });
    return rows.reverse();
  });
}

export async function tagImage(access: StoreAccess, source: string, target: string): Promise<void> {
  await withStore(access, async (store) => {
    const image = await findLocalImage(store, source);
    if (!image) throw noSuchImage(source);
    await store.refs.set(normalizeReference(target), image.index ?? image.descriptor);
  });
}

export interface Removal {
  /** Names removed (familiar form). */
  untagged: string[];
  /** The digest whose every entry was removed, when removed by digest. */
  deleted?: string;
}

/** rmi: removes names, or (by digest) every entry of an image; a digest with several names needs `force`. */
export async function removeImages(access: StoreAccess, names: string[], force: boolean): Promise<Removal[]> {
  return withStore(access, async (store) => {
    const removals: Removal[] = [];
    for (const name of names) {
      if (/^(sha256:)?[a-f0-9]{12,64}$/.test(name)) {
        const entries = (await store.refs.list()).filter((e) => e.descriptor.digest.slice(7).startsWith(name.replace(/^sha256:/, '')));
        if (entries.length === 0) throw noSuchImage(name);
        const named = entries.filter((e) => e.name);
        if (named.length > 1 && !force) {
          throw new GantryError(`image ${name} has several names: ${named.map((e) => familiarReference(parseReference(e.name as string))).join(', ')}`, {
            hint: 'remove them by name, or pass --force to remove them all',
          });
        }
        const digest = entries[0]!.descriptor.digest;
        const untagged = (await store.refs.removeDigest(digest)).map((removed) => familiarReference(parseReference(removed)));
        removals.push({ untagged, deleted: digest });
        continue;
      }
      if (!(await store.refs.remove(name))) throw noSuchImage(name);
      removals.push({ untagged: [familiarReference(parseReference(name))] });
    }
    return removals;
  });
}

/** Bytes the store's parts take, in the order `gantry du` shows them. */
export async function diskUsage(access: StoreAccess): Promise<Array<{ what: string; bytes: number }>> {
  return withStore(access, async (store) => {
    const parts: Array<[string, string]> = [
      ['blobs (images and cached layers)', store.content.blobsDir],
      ['snapshots (unpacked layers)', store.snapshotsDir],
      ['build cache records', store.cacheDir],
      ['cache mounts (RUN --mount=type=cache)', store.cacheMountsDir],
      ['context stat caches', store.contextCacheDir],
      ['temporary files', store.tmpDir],
    ];
    const usage: Array<{ what: string; bytes: number }> = [];
    for (const [what, path] of parts) usage.push({ what, bytes: await dirSize(path) });
    return usage;
  });
}
