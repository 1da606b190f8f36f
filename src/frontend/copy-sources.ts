/**
 * What a COPY/ADD source is (a Git repository, an HTTP(S) URL, or a path) and what `--chmod` may say,
 * by BuildKit's rules. Fetching is the engine's business; the frontend only validates.
 */
import { GantryError } from '../util/index.js';

const PROTOCOL_RE = /^[a-zA-Z0-9]+:\/\//;
const SCP_STYLE_RE = /^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$/;

/** `https://host/repo.git#ref`, `git://...`, `ssh://...` or `git@host:repo.git`. */
export function isGitSource(src: string): boolean {
  // "github.com/org/repo" used to mean a repository; BuildKit now treats it as a local path.
  if (src.startsWith('./') || src.startsWith('../') || src.startsWith('github.com/')) return false;
  const protocol = PROTOCOL_RE.exec(src)?.[0];
  if (protocol) {
    const scheme = protocol.slice(0, -3).toLowerCase();
    if (scheme === 'git' || scheme === 'ssh') return true;
    if (scheme !== 'http' && scheme !== 'https') return false;
    let pathname: string;
    try {
      pathname = new URL(src).pathname;
    } catch {
      return false;
    }
    return pathname.endsWith('.git');
  }
  return SCP_STYLE_RE.test(src);
}

export function isHttpSource(src: string): boolean {
  return (src.startsWith('http://') || src.startsWith('https://')) && !isGitSource(src);
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
