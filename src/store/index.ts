/** The public interface of store/: what other folders may use (see ARCHITECTURE.md). */
export { writeArtifact } from './artifacts.js';
export { type CacheRecord, CacheStore, type LayerRecord, type StepInputs } from './cache-records.js';
export { ContentStore } from './content.js';
export { dirSize, prune, type PruneReport } from './gc.js';
export { createLocalIndex, findLocalImage, readImage, type StoredImage, StoreImageIO } from './images.js';
export { acquireLock, type HeldLock, withLock } from './lock.js';
export type { NamedImage } from './refs.js';
export { openSession, type SessionMode } from './session.js';
export { defaultStoreRoot, Store } from './store.js';
