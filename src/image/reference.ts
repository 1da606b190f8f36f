/**
 * Image references with Docker's grammar and normalization: "alpine" means
 * "docker.io/library/alpine:latest"; "localhost:5000/app@sha256:..." keeps its registry.
 */
import { GantryError } from '../util/errors.js';
import { isDigest, type Digest } from '../util/digest.js';

export const DEFAULT_REGISTRY = 'docker.io';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;

export interface ImageReference {
  /** Registry host[:port], e.g. "docker.io", "localhost:5000". */
  registry: string;
  /** Repository path inside the registry, e.g. "library/alpine". */
  repository: string;
  tag?: string;
  digest?: Digest;
}

export function parseReference(input: string): ImageReference {
  const text = input.trim();
  const fail = (why: string): never => {
    throw new GantryError(`invalid image reference "${input}": ${why}`, {
      hint: 'references look like name[:tag][@sha256:digest], e.g. alpine:3.20 or localhost:5000/team/app:1.0',
    });
  };
  if (text === '') fail('it is empty');

  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) fail(`"${d}" is not a sha256 digest`);
    digest = d as Digest;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) fail(`"${tag}" is not a valid tag`);
  }

  const parts = rest.split('/');
  let registry = DEFAULT_REGISTRY;
  const first = parts[0];
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    if (!DOMAIN.test(first)) fail(`"${first}" is not a valid registry host`);
    registry = first === LEGACY_DEFAULT_REGISTRY ? DEFAULT_REGISTRY : first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => p === '')) fail('the repository name is empty');
  for (const part of parts) {
    if (!PATH_COMPONENT.test(part)) {
      fail(part !== part.toLowerCase() ? `repository name "${part}" must be lowercase` : `"${part}" is not a valid repository name component`);
    }
  }
  if (registry === DEFAULT_REGISTRY && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) fail('the repository name is longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** "docker.io/library/alpine:3.20", "localhost:5000/app@sha256:..." */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The short form Docker shows: "alpine:3.20", "team/app:1", "localhost:5000/app:1". */
export function familiarReference(ref: ImageReference): string {
  let name = `${ref.registry}/${ref.repository}`;
  if (ref.registry === DEFAULT_REGISTRY) {
    name = ref.repository.startsWith('library/') && ref.repository.split('/').length === 2 ? ref.repository.slice('library/'.length) : ref.repository;
  }
  return `${name}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Normalizes a user-typed name: "alpine" → "docker.io/library/alpine:latest". */
export function normalizeReference(input: string): string {
  return formatReference(parseReference(input));
}

export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}
