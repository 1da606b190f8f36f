/** The public interface of solver/: what other folders may use (see ARCHITECTURE.md). */
export { BaseImages, type RemoteResolver } from './base-images.js';
export { build, type BuildOptions, type BuildResult, recordsToExport } from './build.js';
export { type Entitlement, ENTITLEMENTS, isEntitlement } from './entitlements.js';
export type { NetworkMode, SecretSource } from './exec-context.js';
export { commitImage } from './image-commit.js';
export { ingestLayer, layerRecords, LayerStore, unpackImage } from './layers.js';
export type { StepReport } from './stage-runner.js';
