/**
 * Image references as Docker's reference package reads them: validation (for FROM and the
 * InvalidDefaultArgInFrom check) and normalization of familiar names ("alpine" is
 * "docker.io/library/alpine:latest").
 */
import { GantryError } from '../util/errors.js';

export interface ImageReference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

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

/** Parses a reference, filling in docker.io and library/ as Docker does. Throws a GantryError. */
export function parseNormalizedReference(text: string): ImageReference {
  if (IDENTIFIER_RE.test(text)) {
    throw new GantryError(`invalid repository name (${text}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(text);
  const colon = remainder.indexOf(':');
  const remote = colon >= 0 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw new GantryError(`invalid reference format: repository name (${remote}) must be lowercase`);
  }
  return parseReference(`${domain}/${remainder}`);
}

/** `docker.io/library/alpine:latest`: a name without tag or digest gets the tag "latest". */
export function normalizedReferenceString(ref: ImageReference): string {
  const tag = ref.tag ?? (ref.digest === undefined ? 'latest' : undefined);
  return `${ref.domain}/${ref.path}${tag === undefined ? '' : `:${tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

function parseReference(text: string): ImageReference {
  const match = REFERENCE_RE.exec(text);
  if (!match) {
    if (text === '') throw new GantryError('repository name must have at least one component');
    if (REFERENCE_RE.test(text.toLowerCase())) {
      throw new GantryError('invalid reference format: repository name must be lowercase');
    }
    throw new GantryError('invalid reference format');
  }
  const name = match[1]!;
  if (name.length > 255) throw new GantryError('repository name must not be more than 255 characters');
  const nameMatch = ANCHORED_NAME_RE.exec(name);
  const ref: ImageReference = { domain: nameMatch?.[1] ?? '', path: nameMatch?.[2] ?? name };
  if (match[2] !== undefined) ref.tag = match[2];
  if (match[3] !== undefined) {
    const [algorithm, hex] = [match[3].slice(0, match[3].indexOf(':')), match[3].slice(match[3].indexOf(':') + 1)];
    const length = DIGEST_LENGTHS[algorithm];
    if (length === undefined) throw new GantryError('unsupported digest algorithm');
    if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) throw new GantryError('invalid checksum digest format');
    ref.digest = match[3];
  }
  return ref;
}

function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return ['docker.io', `library/${name}`];
  const maybeDomain = name.slice(0, slash);
  const maybeRemote = name.slice(slash + 1);
  let domain: string;
  let remote: string;
  if (maybeDomain === 'index.docker.io') {
    [domain, remote] = ['docker.io', maybeRemote];
  } else if (maybeDomain === 'localhost' || /[.:]/.test(maybeDomain) || maybeDomain.toLowerCase() !== maybeDomain) {
    [domain, remote] = [maybeDomain, maybeRemote];
  } else {
    [domain, remote] = ['docker.io', name];
  }
  if (domain === 'docker.io' && !remote.includes('/')) remote = `library/${remote}`;
  return [domain, remote];
}
