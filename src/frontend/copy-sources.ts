/**
 * What a COPY/ADD source is — a Git repository, an HTTP(S) URL, or a path — classified once, by
 * BuildKit's rule (dockerfile2llb's dispatchCopy with dfgitutil.ParseGitRef and gitutil.ParseURL), and
 * what `--chmod` may say. Fetching is the engine's business; the frontend only classifies and validates.
 */
import { GantryError, goQuote } from '../util/index.js';
import { parseGoBool } from './directives.js';
import type { CopySource } from './plan-types.js';

/** The schemes gitutil.ParseURL accepts; any other `scheme://` is not a Git URL (and not HTTP: a path). */
const GIT_SCHEMES = new Set(['http', 'https', 'ssh', 'git']);
const PROTOCOL_RE = /^[a-zA-Z0-9]+:\/\//;
/** sshutil's SCP-style prefix `user@host:`; the rest is read by hand (see scpStyle). */
const SCP_PREFIX_RE = /^([a-zA-Z0-9_-]+)@([a-zA-Z0-9.-]+):/;

/**
 * `src` (expanded) as a plan source. `keepGitDir` is ADD's --keep-git-dir: it applies to Git sources
 * only and is ignored for the others, as BuildKit does. Throws a GantryError (no location) for a Git
 * URL whose query BuildKit refuses, or that asks for an option gantry does not run yet.
 */
export function classifySource(src: string, keepGitDir?: boolean): CopySource {
  const git = parseGitRef(src);
  if (git && !git.indistinguishableFromLocal) {
    const source: Extract<CopySource, { kind: 'git' }> = { kind: 'git', url: git.remote };
    if (git.ref !== '') source.ref = git.ref;
    if (git.subdir !== '') source.subdir = git.subdir;
    if (keepGitDir !== undefined && git.keepGitDir !== undefined && keepGitDir !== git.keepGitDir) {
      throw new GantryError('inconsistent keep-git-dir configuration', { hint: `--keep-git-dir and ?keep-git-dir= of ${src} disagree` });
    }
    const keep = git.keepGitDir ?? keepGitDir;
    if (keep !== undefined) source.keepGitDir = keep;
    if (git.unsupported !== undefined) {
      throw new GantryError(`the Git URL option ${git.unsupported}= is not supported by gantry yet`, {
        hint: 'clone the repository in a RUN step, or into the build context before building',
      });
    }
    return source;
  }
  // Case matters: BuildKit's isHTTPSource tests the prefix as written, so HTTPS://host/file is a path.
  if (src.startsWith('http://') || src.startsWith('https://')) return { kind: 'http', url: src };
  return { kind: 'context', path: src };
}

interface GitRef {
  /** The URL to clone, without fragment and query. */
  remote: string;
  ref: string;
  subdir: string;
  keepGitDir?: boolean;
  /** The first query option BuildKit reads that a plan cannot carry yet (checksum, commit, submodules, mtime, fetch-by-commit). */
  unsupported?: string;
  /** `github.com/org/repo`: once a repository, now a local path (BuildKit keeps it for build contexts only). */
  indistinguishableFromLocal: boolean;
}

/**
 * dfgitutil.ParseGitRef: undefined where BuildKit's answer is "not a Git ref" (an error with isGit
 * false); throws where it is an error with isGit true (a Git URL with a bad query).
 */
function parseGitRef(src: string): GitRef | undefined {
  if (src.startsWith('./') || src.startsWith('../')) return undefined;
  let url: GitUrl | undefined;
  if (src.startsWith('github.com/')) {
    url = schemeless(src);
    if (!url) return undefined;
  } else {
    url = parseGitUrl(src);
    if (!url) return undefined;
    // An HTTP(S) URL is a Git repository only when its path ends in ".git".
    if ((url.scheme === 'http' || url.scheme === 'https') && !url.path.endsWith('.git')) return undefined;
  }
  const { ref, subdir } = fragmentOptions(url.fragment);
  const parsed: GitRef = { remote: url.remote, ref, subdir, indistinguishableFromLocal: url.scheme === '' };
  loadQuery(parsed, url.query);
  return parsed;
}

interface GitUrl {
  /** Lower case; '' for `github.com/...`. */
  scheme: string;
  /** The path, unescaped. */
  path: string;
  query: Array<[string, string]>;
  fragment: string;
  remote: string;
}

/** gitutil.ParseURL: a URL of a Git scheme, or an SCP-style `user@host:path`; undefined for anything else. */
function parseGitUrl(src: string): GitUrl | undefined {
  const protocol = PROTOCOL_RE.exec(src)?.[0];
  if (protocol === undefined) return scpStyle(src);
  const scheme = protocol.slice(0, -3).toLowerCase();
  if (!GIT_SCHEMES.has(scheme)) return undefined;
  const parts = goUrlParts(src);
  if (!parts) return undefined;
  // After "scheme://" comes the authority, up to the path.
  const afterScheme = parts.beforeQuery.slice(protocol.length);
  const slash = afterScheme.indexOf('/');
  const path = slash < 0 ? '' : afterScheme.slice(slash);
  return { scheme, path: percentDecode(path), query: parts.query, fragment: parts.fragment, remote: scheme + parts.beforeQuery.slice(scheme.length) };
}

/** `github.com/org/repo#ref` read as Go's url.Parse reads a URL without a scheme. */
function schemeless(src: string): GitUrl | undefined {
  const parts = goUrlParts(src);
  if (!parts) return undefined;
  return { scheme: '', path: percentDecode(parts.beforeQuery), query: parts.query, fragment: parts.fragment, remote: parts.beforeQuery };
}

/**
 * A URL split as Go's url.Parse splits it — the fragment at the first "#", then the query at the first
 * "?" — or undefined where url.Parse fails: control characters, a malformed percent-escape in the path or
 * fragment, or what the WHATWG parser refuses too (bad host or port).
 */
function goUrlParts(src: string): { beforeQuery: string; query: Array<[string, string]>; fragment: string } | undefined {
  if (/[\x00-\x1f\x7f]/.test(src)) return undefined;
  const hash = src.indexOf('#');
  const beforeFragment = hash < 0 ? src : src.slice(0, hash);
  const rawFragment = hash < 0 ? '' : src.slice(hash + 1);
  const question = beforeFragment.indexOf('?');
  const beforeQuery = question < 0 ? beforeFragment : beforeFragment.slice(0, question);
  if (BAD_ESCAPE_RE.test(beforeQuery) || BAD_ESCAPE_RE.test(rawFragment)) return undefined;
  if (PROTOCOL_RE.test(src)) {
    try {
      new URL(beforeQuery);
    } catch {
      return undefined;
    }
  }
  // url.Query() keeps the well-formed pairs of a query it cannot wholly parse.
  return { beforeQuery, query: parseQuery(question < 0 ? '' : beforeFragment.slice(question + 1)).pairs, fragment: percentDecode(rawFragment) };
}

/**
 * sshutil.ParseSCPStyleURL: `user@host:path[?query][#fragment]`. The path ends at the first "?" or "#",
 * the query at the next "#" (what the lazy regular expression BuildKit uses matches), and none of it may
 * hold a line break. A query Go cannot parse makes the whole source not a Git URL.
 */
function scpStyle(src: string): GitUrl | undefined {
  const prefix = SCP_PREFIX_RE.exec(src);
  if (!prefix || src.includes('\n')) return undefined;
  const rest = src.slice(prefix[0].length);
  const pathEnd = rest.search(/[?#]/);
  const path = pathEnd < 0 ? rest : rest.slice(0, pathEnd);
  let rawQuery = '';
  let fragment = '';
  if (pathEnd >= 0 && rest[pathEnd] === '?') {
    const hash = rest.indexOf('#', pathEnd);
    rawQuery = hash < 0 ? rest.slice(pathEnd + 1) : rest.slice(pathEnd + 1, hash);
    fragment = hash < 0 ? '' : rest.slice(hash + 1);
  } else if (pathEnd >= 0) {
    fragment = rest.slice(pathEnd + 1);
  }
  const query = parseQuery(rawQuery);
  if (!query.ok) return undefined;
  return { scheme: 'ssh', path, query: query.pairs, fragment, remote: `${prefix[1]}@${prefix[2]}:${path}` };
}

const BAD_ESCAPE_RE = /%(?![0-9a-fA-F]{2})/;

/** %XX escapes to the bytes they stand for, read as UTF-8 (Go's unescape, which accepts any bytes). */
function percentDecode(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

/**
 * url.ParseQuery: the well-formed pairs in order, and whether every pair was (a ";" or a bad escape
 * spoils one): url.Query() keeps the good pairs, ParseSCPStyleURL refuses the whole URL.
 */
function parseQuery(raw: string): { pairs: Array<[string, string]>; ok: boolean } {
  const pairs: Array<[string, string]> = [];
  let ok = true;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    if (part.includes(';') || BAD_ESCAPE_RE.test(part)) {
      ok = false;
      continue;
    }
    const eq = part.indexOf('=');
    const unescape = (text: string) => percentDecode(text.replace(/\+/g, ' '));
    pairs.push(eq < 0 ? [unescape(part), ''] : [unescape(part.slice(0, eq)), unescape(part.slice(eq + 1))]);
  }
  return { pairs, ok };
}

/** gitutil's parseOpts: `#ref:subdir`, the subdirectory cleaned and relative. */
function fragmentOptions(fragment: string): { ref: string; subdir: string } {
  if (fragment === '') return { ref: '', subdir: '' };
  const colon = fragment.indexOf(':');
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  const subdir = colon < 0 ? '' : fragment.slice(colon + 1);
  return { ref, subdir: cleanRelative(subdir) };
}

/** Go's strings.TrimPrefix(path.Join("/", p), "/"). */
function cleanRelative(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

/** dfgitutil's loadQuery, with BuildKit's messages; options are read in the order written (Go's map order is random). */
function loadQuery(ref: GitRef, query: Array<[string, string]>): void {
  const seen = new Map<string, number>();
  for (const [key] of query) seen.set(key, (seen.get(key) ?? 0) + 1);
  let tag = '';
  let branch = '';
  for (const [key, value] of query) {
    if (seen.get(key)! > 1) throw queryError(`query ${goQuote(key)} has multiple values`);
    const flag = key === 'submodules' || key === 'keep-git-dir' || key === 'fetch-by-commit';
    if (value === '' && !flag) throw queryError(`query ${goQuote(key)} has no value`);
    switch (key) {
      case 'ref':
        if (ref.ref !== '' && ref.ref !== value) throw queryError(`ref conflicts: ${goQuote(ref.ref)} vs ${goQuote(value)}`);
        ref.ref = value;
        break;
      case 'tag':
        tag = value;
        break;
      case 'branch':
        branch = value;
        break;
      case 'subdir':
        if (ref.subdir !== '' && ref.subdir !== value) throw queryError(`subdir conflicts: ${goQuote(ref.subdir)} vs ${goQuote(value)}`);
        ref.subdir = value;
        break;
      case 'keep-git-dir':
        ref.keepGitDir = queryBool(key, value);
        break;
      case 'checksum':
      case 'commit':
        ref.unsupported ??= key;
        break;
      case 'submodules':
      case 'fetch-by-commit':
        queryBool(key, value);
        ref.unsupported ??= key;
        break;
      case 'mtime':
        if (value !== 'checkout' && value !== 'commit') throw queryError(`invalid mtime value: ${goQuote(value)} (must be "checkout" or "commit")`);
        ref.unsupported ??= key;
        break;
      default:
        throw queryError(`unexpected query ${goQuote(key)}`);
    }
  }
  if (tag !== '') {
    const full = tag.startsWith('refs/tags/') ? tag : `refs/tags/${tag}`;
    if (ref.ref !== '' && ref.ref !== full) throw queryError(`ref conflicts: ${goQuote(ref.ref)} vs ${goQuote(full)}`);
    ref.ref = full;
  }
  if (branch !== '') {
    if (tag !== '') throw queryError('branch conflicts with tag');
    const full = branch.startsWith('refs/heads/') ? branch : `refs/heads/${branch}`;
    if (ref.ref !== '' && ref.ref !== full) throw queryError(`ref conflicts: ${goQuote(ref.ref)} vs ${goQuote(full)}`);
    ref.ref = full;
  }
}

/** A flag option: present without a value is true, else Go's strconv.ParseBool. */
function queryBool(key: string, value: string): boolean {
  if (value === '') return true;
  const parsed = parseGoBool(value);
  if (parsed === undefined) throw queryError(`invalid ${key} value: ${goQuote(value)}`);
  return parsed;
}

function queryError(message: string): GantryError {
  return new GantryError(message, { hint: 'a Git URL takes each of ref, tag or branch, subdir, keep-git-dir, checksum, submodules, mtime and fetch-by-commit once, e.g. repo.git?tag=v1.0&subdir=docs' });
}

const SYMBOLIC_CLAUSE = /^(?:[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+|[-+=]?[0-7]+)$/;

/** Validates a `--chmod` value: octal up to 07777, or a symbolic mode such as `u+x,g-w`. */
export function validateChmod(chmod: string): void {
  const numeric = /^[0-7]+$/.test(chmod);
  if (numeric && parseInt(chmod, 8) <= 0o7777) return;
  const looksNumeric = /^[+-]?\d+$/.test(chmod);
  if (numeric || looksNumeric) {
    throw new GantryError(`invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`, {
      hint: 'write an octal mode such as 0755, or a symbolic one such as u+x',
    });
  }
  if (!chmod.split(',').every((clause) => SYMBOLIC_CLAUSE.test(clause))) {
    throw new GantryError(`invalid chmod parameter: '${chmod}'`, {
      hint: 'write an octal mode such as 0755, or a symbolic one such as u+rwx,go+rx',
    });
  }
}
