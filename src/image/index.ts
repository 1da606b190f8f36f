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
