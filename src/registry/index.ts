/**
 * gantry's registry client: a repository of any OCI registry as a source and sink of the copy loop,
 * remote images resolved without storing them, referrers, logins in Docker's config format, and
 * registry-side manifest lists. Pulls into and pushes from the store are use cases of app/.
 */
export { resolveRemote, fetchManifest, type RemoteImage } from './pull.js';
export { createManifestList, pushVerified, type ManifestListOptions, type PushResult } from './push.js';
export { copyOptionsFor, openForPull, openForPush } from './transfer.js';
export type { RegistryRepository } from './repository.js';
export { listReferrers } from './artifacts.js';
export type { ReferrersOptions } from './artifacts.js';
export { login, logout } from './login.js';
export type { LoginResult } from './login.js';
export { closeRegistrySession } from './session.js';
export type { RegistryOptions, RegistryProgressEvent, RetryOptions } from './options.js';
export type { ResolvedManifest } from './repository.js';
export { RegistryError } from './http.js';
