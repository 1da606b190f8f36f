/** The public interface of exec/: what other folders may use (see ARCHITECTURE.md). */
export { handlerStatus, requireEmulation, setupBinfmt } from './emulation.js';
export { requireSlirp4netns, SandboxNetwork } from './network.js';
export { type ContainerRuntime, openRuntime, type SecretFile } from './runtime.js';
export { type NetworkAttachment, RUNTIME_MOUNT_POINTS, type SpecMount, withDefaultPath } from './spec.js';
export { resolveOwner, resolveUser } from './users.js';
