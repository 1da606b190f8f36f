/** gantry's layer codec: layer entries, the deterministic tar writer, compression and decompression. */
export {
  type LayerEntry,
  type LayerEntryType,
  type LayerEntrySource,
  type WhiteoutKind,
  WHITEOUT_PREFIX,
  OPAQUE_WHITEOUT,
  WHITEOUT_META_PREFIX,
  whiteoutEntry,
  opaqueWhiteoutEntry,
  classifyWhiteout,
  normalizeLayerPath,
} from './layer-entry.js';
export { type LayerTarOptions, createLayerTar, layerTarChunks, layerEntryHeader } from './tar-writer.js';
export { type TarEntryHeader, TarReader } from './tar-reader.js';
export { TypeFlag } from './tar-header.js';
export { type ByteSource, type LayerCompression, type CompressLayerOptions, type CompressedLayer, compressLayer, compressLayerToFile } from './compress.js';
export { type DetectedCompression, detectCompression, decompressLayer } from './decompress.js';
export { type ArchiveFiles, openArchiveFiles } from './archive-files.js';
export { DirectoryArchiveWriter, TarArchiveWriter } from './archive-writer.js';
export type { BlobInfo, BlobStore, BlobWriter, ExpectedBlob } from './blob-store.js';
export { chainIdOf } from './chain-id.js';
export { type BlobStream, copyImage, type CopyOptions, type CopyProgress, copyReferrers, type ImageSink, type ImageSource } from './copy.js';
export { checkDockerLoadable, DOCKER_MANIFEST_FILE, DockerArchiveSink, DockerArchiveSource, dockerItemConfigDigest, dockerItemNames, type DockerManifestItem, multiPlatformError, readDockerManifest } from './docker-archive.js';
export { checkDescriptor, imageIndex, imageManifest, isImageConfigMediaType, MAX_MANIFEST_BYTES, parseIndex, parseJsonDocument, parseManifest, parseManifestOrIndex, unsupportedMediaType } from './documents.js';
export { checkImages, choosePlatformManifest, configPlatform, imageLayers, platformImages, readDocument, readImageConfig, readIndex, readManifest, referrerDescriptor, subjectOf, walkImage } from './graph.js';
export { type ArchiveImage, existingLayoutIndex, INDEX_FILE, OciLayoutSink, OciLayoutSource } from './layout.js';
export { namedDescriptor, nameFromAnnotations, withoutNames } from './names.js';
export { formatPlatform, formatPlatformAll, hostPlatform, normalizePlatform, parsePlatform, parsePlatformFlag, platformMatches, platformsEqual } from './platform.js';
export { DEFAULT_REGISTRY, familiarReference, formatReference, type ImageReference, normalizeReference, parseReference } from './reference.js';
export { type ContainerConfig, DEFAULT_PATH, type Descriptor, type HealthConfig, type HistoryEntry, type ImageConfig, type ImageIndex, type ImageManifest, isIndexMediaType, isManifestMediaType, MediaType, type Platform } from './types.js';
export { uncompressedDigest } from './decompress.js';
