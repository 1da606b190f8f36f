/** Resolving a remote image or manifest without storing anything; pulls into the store are use cases of app/. */
import { formatReference, parseReference, isIndexMediaType, type Descriptor, type ImageConfig, type ImageManifest, type Platform, parseIndex, parseManifest, configPlatform, readImageConfig, readManifest, choosePlatformManifest } from '../image/index.js';
import type { RegistryOptions } from './options.js';
import { type ResolvedManifest } from './repository.js';
import { openForPull } from './transfer.js';

export interface RemoteImage {
  /** The full name resolved, e.g. "docker.io/library/alpine:3.20". */
  reference: string;
  /** What the tag names: an index or a manifest. */
  root: Descriptor;
  /** The chosen platform's manifest. */
  descriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  /** The image's platform as its config states it. */
  platform: Platform;
  /** "registry/repository@<manifest digest>": pulling this gets exactly this image. */
  pinned: string;
}

/**
 * Looks up an image in its registry without storing it: for a build's FROM, which needs the digest
 * and config first and the layers only when it runs something.
 */
export async function resolveRemote(reference: string, platform: Platform, options: RegistryOptions = {}): Promise<RemoteImage> {
  const ref = parseReference(reference);
  const repo = openForPull(ref, options);
  const root = await repo.resolve(ref.digest ?? (ref.tag as string));
  let descriptor = root.descriptor;
  if (isIndexMediaType(root.descriptor.mediaType)) {
    descriptor = choosePlatformManifest(parseIndex(root.bytes, `${repo.description}: ${root.descriptor.digest}`), platform, formatReference(ref));
  }
  const what = formatReference(ref);
  const manifest = descriptor === root.descriptor ? parseManifest(root.bytes, `${repo.description}: ${descriptor.digest}`) : await readManifest(repo, descriptor);
  const config = await readImageConfig(repo, manifest, what);
  const imagePlatform = configPlatform(config);
  return {
    reference: formatReference(ref),
    root: root.descriptor,
    descriptor,
    manifest,
    config,
    platform: imagePlatform,
    pinned: `${ref.registry}/${ref.repository}@${descriptor.digest}`,
  };
}

/** Fetches a remote manifest or index by tag or digest without storing anything. */
export async function fetchManifest(reference: string, options: RegistryOptions = {}): Promise<ResolvedManifest> {
  const ref = parseReference(reference);
  return openForPull(ref, options).resolve(ref.digest ?? (ref.tag as string));
}


