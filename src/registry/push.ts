/**
 * Pushing images and artifacts, and assembling multi-platform manifest lists in a registry. An index
 * is tagged only after every child image is pushed and confirmed present, so a failed platform
 * leaves the tag where it was.
 */
import { copyImage, type CopyOptions, type ImageSource, formatPlatform, platformsEqual, formatReference, parseReference, MediaType, isIndexMediaType, isManifestMediaType, type Descriptor, imageIndex, parseIndex, parseManifestOrIndex, configPlatform, readImageConfig, walkImage } from '../image/index.js';
import { sha256, shortDigest, GantryError } from '../util/index.js';
import type { RegistryOptions } from './options.js';
import { RegistryRepository } from './repository.js';
import { sessionFor } from './session.js';
import { copyOptionsFor, openForPush } from './transfer.js';

export interface PushResult {
  /** The full name pushed, e.g. "ghcr.io/team/app:1.0". */
  reference: string;
  /** The pushed manifest or index (its digest is the image's registry digest). */
  descriptor: Descriptor;
}

export interface ManifestListOptions extends RegistryOptions {
  /** Annotations of the new index. */
  annotations?: Record<string, string>;
}

/**
 * Creates a multi-platform index in a registry from images already in registries (like `docker
 * buildx imagetools create`): each source is a single-platform image or an index whose images are all
 * taken. Content from other repositories is mounted or copied into the target's repository first.
 */
export async function createManifestList(sources: string[], target: string, options: ManifestListOptions = {}): Promise<PushResult> {
  if (sources.length === 0) throw new GantryError('a manifest list needs at least one source image');
  const session = sessionFor(options);
  const targetRef = parseReference(target);
  if (targetRef.digest) throw new GantryError(`the target of a new manifest list must be a tag, not a digest (${target})`);
  const entries: Array<{ descriptor: Descriptor; source: RegistryRepository }> = [];
  const sameRegistrySources: string[] = [];
  for (const text of sources) {
    const ref = parseReference(text);
    const repo = new RegistryRepository(session, ref.registry, ref.repository, { useMirrors: true });
    if (ref.registry === targetRef.registry && ref.repository !== targetRef.repository) sameRegistrySources.push(ref.repository);
    const root = await repo.resolve(ref.digest ?? (ref.tag as string));
    const doc = parseManifestOrIndex(root.descriptor, root.bytes, `${repo.description}: ${root.descriptor.digest}`);
    if (doc.kind === 'index') {
      for (const child of doc.index.manifests) entries.push({ descriptor: child, source: repo });
    } else {
      const config = await readImageConfig(repo, doc.manifest, formatReference(ref));
      entries.push({ descriptor: { ...root.descriptor, platform: configPlatform(config) }, source: repo });
    }
  }
  const unique = [...new Map(entries.map((e) => [e.descriptor.digest, e])).values()];
  for (let i = 0; i < unique.length; i++) {
    const a = unique[i].descriptor.platform;
    if (!a || a.architecture === 'unknown') continue;
    const clash = unique.slice(i + 1).find((e) => e.descriptor.platform && platformsEqual(a, e.descriptor.platform));
    if (clash) {
      throw new GantryError(`two source images are for ${formatPlatform(a)} (${shortDigest(unique[i].descriptor.digest)} and ${shortDigest(clash.descriptor.digest)})`, {
        hint: 'a manifest list holds one image per platform',
      });
    }
  }
  const targetRepo = openForPush(targetRef, options, sameRegistrySources);
  const allDocker = unique.every((e) => e.descriptor.mediaType === MediaType.dockerManifest);
  if (options.annotations && Object.keys(options.annotations).length > 0 && allDocker) {
    throw new GantryError('annotations need an OCI index, but every source is a Docker schema 2 image', { hint: 'leave out the annotations' });
  }
  const index = imageIndex(
    unique.map((e) => e.descriptor),
    { mediaType: allDocker ? MediaType.dockerManifestList : MediaType.ociIndex, annotations: options.annotations },
  );
  const bytes = Buffer.from(JSON.stringify(index, null, 2));
  const root: Descriptor = { mediaType: index.mediaType as string, digest: sha256(bytes), size: bytes.length };
  const childSources = new Map(unique.map((e) => [e.descriptor.digest, e.source]));
  await pushVerified((child) => childSources.get(child.digest) as RegistryRepository, targetRepo, root, bytes, targetRef.tag, copyOptionsFor(options, targetRepo, 'push'));
  return { reference: formatReference(targetRef), descriptor: root };
}


/**
 * Copies `root` to `target`. For an index: every child image is pushed (one at a time, so the blob
 * concurrency stays bounded), each from `sourceOf(child)`, then every child manifest and blob is confirmed with HEAD, and only then
 * is the index written and tagged.
 */
export async function pushVerified(
  sourceOf: (child: Descriptor) => ImageSource,
  target: RegistryRepository,
  root: Descriptor,
  bytes: Uint8Array,
  tag: string | undefined,
  copyOptions: CopyOptions,
): Promise<void> {
  if (!isIndexMediaType(root.mediaType)) {
    await copyImage(sourceOf(root), target, root, { ...copyOptions, tag });
    return;
  }
  const index = parseIndex(bytes, `${root.digest}`);
  const failures: string[] = [];
  let firstError: unknown;
  for (const child of index.manifests) {
    try {
      const source = sourceOf(child);
      await copyImage(source, target, child, copyOptions);
      await confirmPresent(source, target, child);
    } catch (err) {
      failures.push(`${childLabel(child)}: ${(err as Error).message}`);
      firstError ??= err;
    }
  }
  if (failures.length > 0) {
    throw new GantryError(`push to ${target.name} failed for ${failures.length === 1 ? 'the image' : 'the images'} ${failures.join('; ')}`, {
      hint: tag ? `the tag ${tag} was not changed; push again to retry` : 'nothing was tagged; push again to retry',
      cause: firstError,
    });
  }
  await target.putManifest(root, bytes, tag);
}

/** HEADs a pushed manifest and everything it refers to. */
async function confirmPresent(source: ImageSource, target: RegistryRepository, root: Descriptor): Promise<void> {
  await walkImage(source, root, async ({ descriptor, doc }) => {
    if (!(await target.hasManifest(descriptor))) throw new GantryError(`manifest ${descriptor.digest} is missing from ${target.name} after being pushed`);
    if (doc.kind === 'index') return;
    for (const blob of [doc.manifest.config, ...doc.manifest.layers]) {
      if (!(await target.hasBlob(blob))) throw new GantryError(`blob ${blob.digest} is missing from ${target.name} after being pushed`);
    }
  });
}

function childLabel(child: Descriptor): string {
  if (child.platform && child.platform.architecture !== 'unknown') return `for ${formatPlatform(child.platform)} (${shortDigest(child.digest)})`;
  const reference = child.annotations?.['vnd.docker.reference.digest'];
  if (reference) return `attestation for ${shortDigest(reference)}`;
  return isManifestMediaType(child.mediaType) ? shortDigest(child.digest) : `${child.mediaType} ${shortDigest(child.digest)}`;
}
