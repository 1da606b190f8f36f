/**
 * Writes a built stage as an OCI image: config (Docker's field layout, full history, rootfs.diff_ids),
 * manifest, and their blobs in the store.
 */
import { MediaType, type ContainerConfig, type Descriptor, type HistoryEntry, type ImageConfig, type ImageManifest, type Platform, imageManifest } from '../image/index.js';
import type { Store, LayerRecord } from '../store/index.js';

export interface ImageParts {
  platform: Platform;
  config: ContainerConfig;
  /** Every layer, the base image's first, in order. */
  layers: LayerRecord[];
  /** Every history entry, the base image's first (empty_layer for config-only steps). */
  history: HistoryEntry[];
  /** ISO time for `created` when no history entry has one (SOURCE_DATE_EPOCH or the build's start). */
  created: string;
  /** MAINTAINER, or the base image's author. */
  author?: string;
  annotations?: Record<string, string>;
}

export function imageConfigFor(parts: ImageParts): ImageConfig {
  const history = withCreatedTimes(parts.history, parts.created);
  return {
    architecture: parts.platform.architecture,
    os: parts.platform.os,
    ...(parts.platform.variant ? { variant: parts.platform.variant } : {}),
    created: history.at(-1)?.created ?? parts.created,
    ...(parts.author ? { author: parts.author } : {}),
    config: parts.config,
    rootfs: { type: 'layers', diff_ids: parts.layers.map((l) => l.diffId) },
    history,
  };
}

/**
 * BuildKit's rule for entries without a time (config-only steps): those before the first new layer
 * take that layer's time (not the base image's), later ones the time of the layer entry before them;
 * with no new layer, the last time found; `fallback` when no entry has one.
 */
function withCreatedTimes(history: HistoryEntry[], fallback: string): HistoryEntry[] {
  let fill: string | undefined;
  let sawUntimed = false;
  for (const entry of history) {
    if (entry.created) {
      fill = entry.created;
      if (sawUntimed) break;
    } else {
      sawUntimed = true;
    }
  }
  sawUntimed = false;
  return history.map((entry) => {
    if (entry.created) {
      if (sawUntimed) fill = entry.created;
      return entry;
    }
    sawUntimed = true;
    return { created: fill ?? fallback, ...entry };
  });
}

export async function commitImage(store: Store, parts: ImageParts): Promise<{ descriptor: Descriptor; config: ImageConfig; manifest: ImageManifest }> {
  const config = imageConfigFor(parts);
  const configBlob = await store.content.writeJson(config);
  const manifest = imageManifest(
    { mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size },
    parts.layers.map((l) => ({ mediaType: ociLayerMediaType(l.mediaType), digest: l.digest, size: l.size })),
    { annotations: parts.annotations },
  );
  const manifestBlob = await store.content.writeJson(manifest);
  const descriptor: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: manifestBlob.digest,
    size: manifestBlob.size,
    platform: parts.platform,
  };
  return { descriptor, config, manifest };
}

/** Docker schema2 layer media types become their OCI equivalents in an OCI manifest. */
function ociLayerMediaType(mediaType: string): string {
  return mediaType === MediaType.dockerLayerGzip ? MediaType.ociLayerGzip : mediaType;
}
