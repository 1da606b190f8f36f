/**
 * The use cases that reach a registry: pull, push, manifest lists, login and logout; loaded on first
 * use (registry-loader.ts), with the registry client under them.
 */
import { MAX_MANIFEST_BYTES, normalizeReference, parseJsonDocument, type Descriptor, type Platform } from '../image/index.js';
import { createManifestList, fetchManifest, login, logout, type PushResult, type RegistryOptions } from '../registry/index.js';
import { createLocalIndex } from '../store/index.js';
import { pullImage, type PullResult } from './pull.js';
import { pushImage } from './push.js';
import { withStore, type StoreAccess } from './session.js';
import { unpackForThisMachine } from './unpack.js';

export { closeRegistrySession, resolveRemote } from '../registry/index.js';
export { pullArtifact, pullImage } from './pull.js';
export { pushArtifact, pushImage } from './push.js';

export interface PullRequest {
  reference: string;
  platform?: Platform;
  allPlatforms?: boolean;
}

/** `pull`: the image into the store, named by its tag, and unpacked for this machine. */
export async function pull(access: StoreAccess, request: PullRequest, registry: RegistryOptions, warn: (message: string) => void): Promise<PullResult> {
  return withStore(access, async (store) => {
    const result = await pullImage(store, request.reference, { ...registry, platform: request.platform, allPlatforms: request.allPlatforms });
    await unpackForThisMachine(store, result.descriptor, warn);
    return result;
  });
}

/** `push`: a local image (by name or ID) to `reference`, with its referrers. */
export async function push(access: StoreAccess, image: string, reference: string, registry: RegistryOptions): Promise<PushResult> {
  return withStore(access, (store) => pushImage(store, image, reference, registry));
}

/** `manifest create`: an index of registry images pushed to `target`. */
export async function createRemoteIndex(target: string, sources: string[], annotations: Record<string, string>, registry: RegistryOptions): Promise<Descriptor> {
  return (await createManifestList(sources, target, { ...registry, annotations })).descriptor;
}

/** `manifest create --local`: an index of images of the store, named `target` there. */
export async function createStoreIndex(access: StoreAccess, target: string, sources: string[], annotations: Record<string, string>): Promise<Descriptor> {
  return withStore(access, (store) => createLocalIndex(store, normalizeReference(target), sources, annotations));
}

/** `manifest inspect`: the manifest or index of a remote reference, parsed as any image document is (nesting bounded), since it is printed again. */
export async function remoteManifest(reference: string, registry: RegistryOptions): Promise<unknown> {
  const resolved = await fetchManifest(reference, registry);
  return parseJsonDocument(resolved.bytes, `${reference}: ${resolved.descriptor.digest}`, MAX_MANIFEST_BYTES);
}

export { login, logout };
