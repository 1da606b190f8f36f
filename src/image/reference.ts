/**
 * Image references with Docker's grammar (distribution/reference) and normalization: "alpine" means
 * "docker.io/library/alpine:latest"; "localhost:5000/app@sha256:..." keeps its registry.
 */
import { GantryError, type Digest } from '../util/index.js';

export const DEFAULT_REGISTRY = 'docker.io';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const HOST = `(?:${DOMAIN_NAME}|\\[(?:[a-fA-F0-9:]+)\\])`;
const DOMAIN_AND_PORT = `${HOST}(?::[0-9]+)?`;
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const NAME = `(?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME}`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';

const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const DIGEST_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export interface ImageReference {
  /** Registry host[:port], e.g. "docker.io", "localhost:5000". */
  registry: string;
  /** Repository path inside the registry, e.g. "library/alpine". */
  repository: string;
  /** Always set when there is no digest ("latest" by default). */
  tag?: string;
  digest?: Digest;
}

const HINT = 'references look like name[:tag][@sha256:digest], e.g. alpine:3.20 or localhost:5000/team/app:1.0';

/** Parses and normalizes a reference as Docker does; messages are Docker's, with a hint. */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  const fail = (message: string): never => {
    throw new GantryError(message, { hint: HINT });
  };
  if (IDENTIFIER_RE.test(text)) fail(`invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`);
  const [domain, remainder] = splitDockerDomain(text);
  const colon = remainder.indexOf(':');
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) fail(`invalid reference format: repository name (${remote}) must be lowercase`);

  const full = `${domain}/${remainder}`;
  const match = REFERENCE_RE.exec(full);
  if (!match) {
    if (text === '') fail('repository name must have at least one component');
    fail(`invalid reference format: "${input}"`);
  }
  const [, name, tag, digest] = match as RegExpExecArray;
  if (name.length > 255) fail('repository name must not be more than 255 characters');
  const nameMatch = ANCHORED_NAME_RE.exec(name) as RegExpExecArray;
  const ref: ImageReference = { registry: nameMatch[1] ?? DEFAULT_REGISTRY, repository: nameMatch[2] };
  if (digest !== undefined) {
    const algorithm = digest.slice(0, digest.indexOf(':'));
    const hex = digest.slice(digest.indexOf(':') + 1);
    const length = DIGEST_LENGTHS[algorithm];
    if (length === undefined) fail(`unsupported digest algorithm in "${input}"`);
    if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) fail(`invalid checksum digest format in "${input}"`);
    if (algorithm !== 'sha256') fail(`gantry handles sha256 digests only ("${input}")`);
    ref.digest = digest as Digest;
  }
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined) ref.tag = 'latest';
  return ref;
}

/** Docker's splitDockerDomain: the first component is a registry when it has a '.', a ':', is "localhost" or has upper case. */
function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_REGISTRY, `library/${name}`];
  const maybeDomain = name.slice(0, slash);
  const maybeRemote = name.slice(slash + 1);
  let domain: string;
  let remote: string;
  if (maybeDomain === LEGACY_DEFAULT_REGISTRY) {
    [domain, remote] = [DEFAULT_REGISTRY, maybeRemote];
  } else if (maybeDomain === 'localhost' || /[.:]/.test(maybeDomain) || maybeDomain.toLowerCase() !== maybeDomain) {
    [domain, remote] = [maybeDomain, maybeRemote];
  } else {
    [domain, remote] = [DEFAULT_REGISTRY, name];
  }
  if (domain === DEFAULT_REGISTRY && !remote.includes('/')) remote = `library/${remote}`;
  return [domain, remote];
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
