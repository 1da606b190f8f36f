/**
 * gantry's use cases: what each command does, holding a store session for its whole life. The
 * command line (cli/) parses flags into these requests and prints what they return. The registry use
 * cases load on first use (loadRegistryUseCases), so that commands which never reach a registry do
 * not load its HTTP stack.
 */
export type { StoreAccess } from './session.js';
export { buildImage, checkBuild, type BuildRequest, type CheckOutcome, type CheckRequest } from './build.js';
export { parseOutputSpec, type OutputSpec } from './outputs.js';
export { parseCacheSpec, type CacheSpec } from './cache-transfer.js';
export { runImage, type RunRequest } from './run.js';
export { importImage, type ImportRequest } from './import.js';
export { diskUsage, imageHistory, inspectImages, listImages, noSuchImage, removeImages, tagImage, type HistoryRow, type ImageDetails, type ImageRow, type Removal } from './images.js';
export { loadFromArchive, saveToArchive, type ArchiveFormat, type LoadResult, type SavedImage } from './archives.js';
export { pruneStore, type PruneRequest } from './prune.js';
export { closeRegistryIfLoaded, loadRegistryUseCases } from './registry-loader.js';
export type { PullRequest } from './registry-use-cases.js';

// What the command line needs from the layers below, named here so that it depends on this layer only.
export type { BuildResult, SecretSource, NetworkMode, Entitlement, StepReport } from '../solver/index.js';
export { ENTITLEMENTS, isEntitlement } from '../solver/index.js';
export type { RegistryOptions, RegistryProgressEvent } from '../registry/index.js';
export { defaultStoreRoot } from '../store/index.js';
export type { PruneReport } from '../store/index.js';
export { dumpDockerfileAst, dockerfileTooLarge, MAX_DOCKERFILE_BYTES } from '../frontend/index.js';
export { handlerStatus, setupBinfmt } from '../exec/index.js';
