/**
 * gantry's registry client: pulling and pushing images and artifacts through any OCI registry,
 * logins in Docker's config format, and registry-side manifest lists.
 */
export { pullImage, resolveRemote, pullArtifact, fetchManifest } from './pull.js';
export type { PullOptions, PullResult, RemoteImage, PullArtifactOptions, PulledArtifact } from './pull.js';
export { pushImage, pushArtifact, createManifestList } from './push.js';
export type { PushOptions, PushResult, ManifestListOptions } from './push.js';
export { listReferrers } from './artifacts.js';
export type { ReferrersOptions } from './artifacts.js';
export { writeArtifact, type ArtifactBlob, type ArtifactSpec } from '../store/artifacts.js';
export { login, logout } from './login.js';
export type { LoginResult } from './login.js';
export { closeRegistrySession } from './session.js';
export type { RegistryOptions, RegistryProgressEvent, RetryOptions } from './options.js';
export type { ResolvedManifest } from './repository.js';
export { RegistryError } from './http.js';
