/** Opening a registry repository for a transfer, and the copy-loop options of one: the session's concurrency, referrers carried, progress reported. */
import type { CopyOptions, ImageReference } from '../image/index.js';
import type { RegistryOptions } from './options.js';
import { copyProgress } from './progress.js';
import { RegistryRepository } from './repository.js';
import { sessionFor } from './session.js';

/** A repository to read from, through the configured mirrors first. */
export function openForPull(ref: ImageReference, options: RegistryOptions): RegistryRepository {
  return new RegistryRepository(sessionFor(options), ref.registry, ref.repository, { useMirrors: true });
}

/** A repository to push to; blobs found in `mountFrom` (other repositories of its registry) are mounted, not uploaded. */
export function openForPush(ref: ImageReference, options: RegistryOptions, mountFrom: string[]): RegistryRepository {
  return new RegistryRepository(sessionFor(options), ref.registry, ref.repository, { push: true, mountFrom });
}

export function copyOptionsFor(options: RegistryOptions, repository: RegistryRepository, direction: 'pull' | 'push'): CopyOptions {
  const session = sessionFor(options);
  return { concurrency: session.options.concurrency, referrers: true, ...copyProgress(session.options.onProgress, direction, repository.name) };
}
