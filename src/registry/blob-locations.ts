/**
 * Where this process has seen each blob in a registry (pulled from, pushed to, found present), so a
 * later push to another repository of the same registry can mount the blob instead of uploading it.
 */
import type { Digest } from '../util/index.js';

const seen = new Map<Digest, Set<string>>();
/** Candidates kept per blob: enough to find a mountable source, few enough to bound the attempts. */
const MAX_PER_BLOB = 8;

export function rememberBlobLocation(digest: Digest, registry: string, repository: string): void {
  let places = seen.get(digest);
  if (!places) {
    places = new Set();
    seen.set(digest, places);
  }
  const place = `${registry}/${repository}`;
  places.delete(place);
  places.add(place);
  if (places.size > MAX_PER_BLOB) places.delete(places.values().next().value as string);
}

/** Repositories of `registry` known to hold `digest`, most recently seen first. */
export function knownBlobRepositories(digest: Digest, registry: string): string[] {
  const places = [...(seen.get(digest) ?? [])].reverse();
  const prefix = `${registry}/`;
  return places.filter((place) => place.startsWith(prefix)).map((place) => place.slice(prefix.length));
}
