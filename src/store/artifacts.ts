/**
 * OCI artifacts (image-spec 1.1) written into the store: a manifest with an artifactType, any config and
 * layer media types, and optionally a subject it refers to. The registry module pushes and pulls them.
 */
import { MediaType, type Descriptor, imageManifest } from '../image/index.js';
import { GantryError, sha256 } from '../util/index.js';
import { StoreImageIO } from './images.js';
import type { Store } from './store.js';

export interface ArtifactBlob {
  mediaType: string;
  data: Uint8Array | string;
  annotations?: Record<string, string>;
}

export interface ArtifactSpec {
  /** What the artifact is, e.g. "application/vnd.example.cache.v1". */
  artifactType: string;
  /** Default: the OCI empty config ("{}", application/vnd.oci.empty.v1+json). */
  config?: ArtifactBlob;
  /** Blobs given as data are written to the store; descriptors must name blobs already in it. */
  layers: Array<ArtifactBlob | Descriptor>;
  /** The manifest this artifact refers to (it then shows among that manifest's referrers). */
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

const EMPTY_JSON = '{}';

/** Writes an artifact's blobs and manifest into the store; returns the manifest's descriptor (with artifactType). */
export async function writeArtifact(store: Store, spec: ArtifactSpec): Promise<Descriptor> {
  if (!spec.artifactType) throw new GantryError('an artifact needs an artifactType');
  const writeBlob = async (blob: ArtifactBlob): Promise<Descriptor> => {
    const info = await store.content.writeBytes(blob.data);
    const descriptor: Descriptor = { mediaType: blob.mediaType, digest: info.digest, size: info.size };
    if (blob.annotations) descriptor.annotations = blob.annotations;
    return descriptor;
  };
  const config = await writeBlob(spec.config ?? { mediaType: MediaType.ociEmpty, data: EMPTY_JSON });
  const layers: Descriptor[] = [];
  for (const layer of spec.layers) {
    if ('digest' in layer) {
      const info = await store.content.info(layer.digest);
      if (!info) throw new GantryError(`artifact layer ${layer.digest} is not in the store`);
      if (info.size !== layer.size) throw new GantryError(`artifact layer ${layer.digest} is ${info.size} bytes in the store, its descriptor says ${layer.size}`);
      layers.push(layer);
    } else {
      layers.push(await writeBlob(layer));
    }
  }
  // The image spec's guidance: an artifact without content still lists one (empty) layer.
  if (layers.length === 0) layers.push(await writeBlob({ mediaType: MediaType.ociEmpty, data: EMPTY_JSON }));
  const manifest = imageManifest(config, layers, {
    artifactType: spec.artifactType,
    subject: spec.subject ? { mediaType: spec.subject.mediaType, digest: spec.subject.digest, size: spec.subject.size } : undefined,
    annotations: spec.annotations,
  });
  const bytes = Buffer.from(JSON.stringify(manifest));
  const descriptor: Descriptor = { mediaType: MediaType.ociManifest, digest: sha256(bytes), size: bytes.length, artifactType: spec.artifactType };
  // Through the store's sink, so that an artifact with a subject is found among its referrers.
  await new StoreImageIO(store).putManifest(descriptor, bytes);
  return descriptor;
}

