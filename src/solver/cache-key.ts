/**
 * Cache keys. Each key is a sha256 over canonical JSON of the parent step's key and everything that
 * defines the step: the expanded instruction, platform, env and build args in effect, and for steps
 * that read files the digest of exactly that content. Never times or inodes.
 */
import { canonicalJson, sha256, type Digest } from '../util/index.js';
import { type Platform, formatPlatform } from '../image/index.js';

/** Bump when the meaning of a key changes, so old records are never reused wrongly. */
const KEY_VERSION = 'gantry-cache-v1';

export function baseImageKey(manifestDigest: string): Digest {
  return sha256(canonicalJson([KEY_VERSION, 'image', manifestDigest]));
}

export function scratchKey(platform: Platform): Digest {
  return sha256(canonicalJson([KEY_VERSION, 'scratch', formatPlatform(platform)]));
}

/** `parentKey` is undefined for steps independent of what is below them (COPY --link). */
export function stepKey(parentKey: Digest | undefined, definition: Record<string, unknown>): Digest {
  return sha256(canonicalJson([KEY_VERSION, 'step', parentKey ?? null, definition]));
}

/**
 * The identities under which a step's last inputs are remembered for explaining misses: one per
 * platform, and one for whichever platform built the step last (so the first build for a new platform
 * can say that the platform is what changed).
 */
export function stepIdentities(parts: { context: string; dockerfile: string; platform: Platform; stage: string; step: number }): { platform: Digest; any: Digest } {
  const step = [parts.context, parts.dockerfile, parts.stage, parts.step];
  return {
    platform: sha256(canonicalJson([KEY_VERSION, 'identity', formatPlatform(parts.platform), ...step])),
    any: sha256(canonicalJson([KEY_VERSION, 'identity-any-platform', ...step])),
  };
}
