import { sha256, type Digest } from '../util/index.js';

/** The OCI chain ID of a layer stack (bottom first): what a snapshot of those layers is keyed by. */
export function chainIdOf(diffIds: readonly Digest[]): Digest | undefined {
  let chain: Digest | undefined;
  for (const diffId of diffIds) chain = chain ? sha256(`${chain} ${diffId}`) : diffId;
  return chain;
}
