/**
 * Pushing images and artifacts from the store to a registry: an index only after every platform's
 * image is pushed and confirmed, and the referrers of what is pushed with it. Callers hold a store session.
 */
import { copyReferrers, formatReference, parseReference, isIndexMediaType, type Descriptor } from '../image/index.js';
import { type RegistryOptions, pushVerified, type PushResult, copyOptionsFor, openForPush } from '../registry/index.js';
import { findLocalImage, StoreImageIO, type Store } from '../store/index.js';
import { GantryError } from '../util/index.js';

export interface PushOptions extends RegistryOptions {
  /**
   * Other repositories of the target registry that may already hold the blobs ("team/base" or
   * "host/team/base"): blobs found there are mounted instead of uploaded.
   */
  mountFrom?: string[];
}

/**
 * Pushes a local image (a name or an image ID) to `reference`. A reference with a digest instead of a
 * tag ("host/app@sha256:…", which must be the image's digest) pushes without tagging.
 */
export async function pushImage(store: Store, localName: string, reference: string, options: PushOptions = {}): Promise<PushResult> {
  // By name the stored root is pushed as it is (an index need not have a platform image); else by image ID.
  let root = /^(sha256:)?[a-f0-9]{12,64}$/.test(localName) ? undefined : await store.refs.get(localName);
  if (!root) {
    const image = await findLocalImage(store, localName);
    root = image?.index ?? image?.descriptor;
  }
  if (!root) {
    throw new GantryError(`no local image ${localName}`, { hint: 'build it with -t, pull it, or check the name with gantry images' });
  }
  return pushFromStore(store, root, reference, options);
}

/** Pushes a manifest or index from the store (e.g. one written by writeArtifact) with all its blobs. */
export async function pushArtifact(store: Store, artifact: Descriptor, reference: string, options: PushOptions = {}): Promise<PushResult> {
  return pushFromStore(store, artifact, reference, options);
}

async function pushFromStore(store: Store, root: Descriptor, reference: string, options: PushOptions): Promise<PushResult> {
  const ref = parseReference(reference);
  if (ref.digest && ref.digest !== root.digest) {
    throw new GantryError(`cannot push ${root.digest} as ${formatReference(ref)}: a digest reference must be the content's own digest`, {
      hint: 'push to a tag instead, or drop the digest',
    });
  }
  const target = openForPush(ref, options, options.mountFrom ?? []);
  const source = new StoreImageIO(store);
  const bytes = await source.getManifest(root);
  const copyOptions = copyOptionsFor(options, target, 'push');
  await pushVerified(() => source, target, root, bytes, ref.digest ? undefined : ref.tag, copyOptions);
  // An index is written by pushVerified itself, so its own referrers follow it here (a manifest's come with copyImage).
  if (isIndexMediaType(root.mediaType)) await copyReferrers(source, target, root, copyOptions);
  return { reference: formatReference(ref), descriptor: root };
}

