/**
 * Build cache export and import (`--cache-to`, `--cache-from`): the cache records of a build and the
 * layer blobs they point to, as one OCI artifact — a manifest whose config lists the records and whose
 * layers are the blobs. `type=local` keeps it in an OCI layout directory (what a CI job saves and
 * restores); `type=registry` pushes it to a registry reference so other machines can pull it.
 * mode=min exports the steps of the final image; mode=max every step the build ran or reused.
 */
import { rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join, resolve } from 'node:path';
import { copyImage, openArchiveFiles, uncompressedDigest, DirectoryArchiveWriter, OciLayoutSink, OciLayoutSource, type Descriptor, type ImageManifest, checkDescriptor, parseJsonDocument, readManifest } from '../image/index.js';
import { checkDigest, type Digest, GantryError, isGantryError, pathExists, parseKeyValueList } from '../util/index.js';
import type { RegistryOptions } from '../registry/index.js';
import { writeArtifact, CacheStore, type CacheRecord, StoreImageIO, type Store } from '../store/index.js';
import { loadRegistryUseCases } from './registry-loader.js';

export const CACHE_ARTIFACT_TYPE = 'application/vnd.gantry.build-cache.v1';
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.gantry.build-cache.config.v1+json';
/** The name the cache artifact has inside a local cache directory. */
const LOCAL_CACHE_NAME = 'gantry-build-cache:latest';

export type CacheSpec =
  | { type: 'local'; path: string; mode: 'min' | 'max' }
  | { type: 'registry'; ref: string; mode: 'min' | 'max' };

interface CacheDocument {
  version: 1;
  records: CacheRecord[];
}

/** Parses `type=local,dest=DIR,mode=max` (--cache-to) or `type=registry,ref=REF` (--cache-from). */
export function parseCacheSpec(text: string, flag: '--cache-to' | '--cache-from'): CacheSpec {
  const fields = parseKeyValueList(text, flag, { known: ['type', 'mode', 'dest', 'src', 'ref'], example: `type=local,${flag === '--cache-to' ? 'dest' : 'src'}=.cache` });
  const mode = fields.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw new GantryError(`${flag}: mode=${mode} is not min or max`);
  switch (fields.get('type')) {
    case 'local': {
      const path = fields.get(flag === '--cache-to' ? 'dest' : 'src');
      if (!path) throw new GantryError(`${flag} type=local needs ${flag === '--cache-to' ? 'dest' : 'src'}=DIR`);
      return { type: 'local', path: resolve(path), mode };
    }
    case 'registry': {
      const ref = fields.get('ref');
      if (!ref) throw new GantryError(`${flag} type=registry needs ref=REFERENCE`);
      return { type: 'registry', ref, mode };
    }
    default:
      throw new GantryError(`${flag}: type=${fields.get('type') ?? '(missing)'} is not supported`, { hint: 'use type=local or type=registry' });
  }
}

/** Writes the records and their layers as a cache artifact in the store and exports it. */
export async function exportCache(store: Store, records: CacheRecord[], spec: CacheSpec, registry: RegistryOptions): Promise<void> {
  const unique = [...new Map(records.map((r) => [r.key, r])).values()];
  const layers = [...new Map(unique.map((r) => [r.layer.digest, { mediaType: r.layer.mediaType, digest: r.layer.digest, size: r.layer.size } as Descriptor])).values()];
  const document: CacheDocument = { version: 1, records: unique };
  const artifact = await writeArtifact(store, {
    artifactType: CACHE_ARTIFACT_TYPE,
    config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, data: JSON.stringify(document) },
    layers,
  });
  if (spec.type === 'registry') {
    // The registry client (and its HTTP stack) loads only when a registry is used.
    const { pushArtifact } = await loadRegistryUseCases();
    await pushArtifact(store, artifact, spec.ref, registry);
    return;
  }
  // A fresh directory replaces the old one, so a cache directory holds only what the last build used.
  const staging = join(dirname(spec.path), `.${basename(spec.path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const sink = new OciLayoutSink(await DirectoryArchiveWriter.open(staging));
  try {
    await copyImage(new StoreImageIO(store), sink, artifact, { tag: LOCAL_CACHE_NAME });
    await sink.commit();
  } catch (err) {
    await sink.abort();
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  const old = `${staging}.old`;
  const hadOld = await pathExists(spec.path);
  if (hadOld) await rename(spec.path, old);
  await rename(staging, spec.path);
  if (hadOld) await rm(old, { recursive: true, force: true });
}

/**
 * Brings a cache artifact's layers into the store and adds its records to the build cache; returns how
 * many were imported, and how many were refused because their layer is not what their diff ID says.
 */
export async function importCache(store: Store, spec: CacheSpec, registry: RegistryOptions): Promise<{ imported: number; refused: number }> {
  let manifest: ImageManifest;
  if (spec.type === 'registry') {
    const { pullArtifact } = await loadRegistryUseCases();
    const pulled = await pullArtifact(store, spec.ref, registry);
    manifest = pulled.manifest as ImageManifest;
  } else {
    if (!(await pathExists(spec.path))) return { imported: 0, refused: 0 };
    const files = await openArchiveFiles(spec.path, { tmpDir: store.tmpDir });
    try {
      const source = await OciLayoutSource.open(files);
      const root = source.images.find((image) => image.names.length === 0 || image.names.some((n) => n.endsWith(LOCAL_CACHE_NAME)))?.root ?? source.images[0]?.root;
      if (!root) throw new GantryError(`${spec.path} holds no build cache`);
      await copyImage(source, new StoreImageIO(store), root);
      manifest = await readManifest(new StoreImageIO(store), root, `${spec.path}: build cache`);
    } finally {
      await files.close();
    }
  }
  if (manifest.artifactType !== CACHE_ARTIFACT_TYPE || manifest.config?.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
    throw new GantryError(`${spec.type === 'local' ? spec.path : spec.ref} is not a gantry build cache`, {
      hint: 'point --cache-from at what --cache-to wrote',
    });
  }
  const what = `${spec.type === 'local' ? spec.path : spec.ref}: build cache`;
  const document = parseCacheDocument(await store.content.readBytes(manifest.config.digest, MAX_CACHE_DOCUMENT_BYTES), what);
  const cache = new CacheStore(store.cacheDir);
  // A hit puts a record's layer and diff ID into an image as they are, unpacked or not: each layer's
  // content is checked against the diff ID its records give it, once per layer.
  const diffIds = new Map<Digest, Promise<Digest | undefined>>();
  const diffIdOf = (digest: Digest): Promise<Digest | undefined> => {
    let known = diffIds.get(digest);
    if (!known) {
      known = store.content.openRead(digest).then((blob) => uncompressedDigest(blob, digest)).catch((err: unknown) => {
        if (isGantryError(err)) return undefined;
        throw err;
      });
      diffIds.set(digest, known);
    }
    return known;
  };
  let imported = 0;
  let refused = 0;
  for (const record of document.records) {
    if (!(await store.content.has(record.layer.digest))) continue;
    if (await cache.get(record.key)) continue;
    if ((await diffIdOf(record.layer.digest)) !== record.layer.diffId) {
      refused++;
      continue;
    }
    await cache.put(record);
    imported++;
  }
  return { imported, refused };
}

/** A cache artifact's record list is small JSON: a few hundred bytes a step. */
const MAX_CACHE_DOCUMENT_BYTES = 64 * 1024 * 1024;

/**
 * Checks an imported cache document field by field: its keys and digests become file names in the
 * store, and its records are trusted to describe layers, so nothing in it is used unchecked.
 */
function parseCacheDocument(bytes: Uint8Array, what: string): CacheDocument {
  const doc = parseJsonDocument(bytes, what, MAX_CACHE_DOCUMENT_BYTES) as Partial<CacheDocument> | null;
  if (typeof doc !== 'object' || doc === null || doc.version !== 1 || !Array.isArray(doc.records)) {
    throw new GantryError(`${what}: not a gantry build cache document of version 1`, { hint: 'point --cache-from at what --cache-to wrote' });
  }
  doc.records.forEach((value: unknown, i) => {
    const where = `${what} record ${i + 1}`;
    const record = value as Partial<CacheRecord> | null;
    const layer = record?.layer as Partial<CacheRecord['layer']> | undefined;
    checkDigest(record?.key, where);
    if (typeof layer !== 'object' || layer === null) throw new GantryError(`${where}: it names no layer`);
    checkDescriptor({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, `${where} layer`);
    checkDigest(layer.diffId, `${where} layer diff ID`);
    if (typeof record?.description !== 'string' || typeof record.createdAt !== 'string' || typeof record.seconds !== 'number') {
      throw new GantryError(`${where}: description, createdAt and seconds must be a string, a string and a number`);
    }
  });
  return doc as CacheDocument;
}
