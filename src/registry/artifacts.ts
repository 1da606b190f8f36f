/**
 * Referrers of a manifest (artifacts whose subject it is), listed through the registry's referrers API
 * or its `sha256-<hex>` fallback tag. Artifacts are written into the store by store/artifacts.ts and
 * pushed with pushArtifact, pulled with pullArtifact.
 */
import { parseReference, type Descriptor } from '../image/index.js';
import type { RegistryOptions } from './options.js';
import { RegistryRepository } from './repository.js';
import { sessionFor } from './session.js';

export interface ReferrersOptions extends RegistryOptions {
  /** Only referrers of this artifactType. */
  artifactType?: string;
}

/**
 * Lists the manifests that refer to `reference` (a "name@digest", or a tag, which is resolved first),
 * each with its artifactType and annotations.
 */
export async function listReferrers(reference: string, options: ReferrersOptions = {}): Promise<Descriptor[]> {
  const ref = parseReference(reference);
  const repo = new RegistryRepository(sessionFor(options), ref.registry, ref.repository);
  const digest = ref.digest ?? (await repo.resolve(ref.tag as string)).descriptor.digest;
  return repo.listReferrers(digest, options.artifactType);
}
