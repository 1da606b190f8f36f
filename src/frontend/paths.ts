/**
 * Unix path handling as BuildKit does it for WORKDIR, COPY destinations and mount targets: Go's
 * path.Clean/path.Join, and resolution against the working directory that keeps a trailing slash.
 */

/** Go's path.Clean. */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Go's path.Join: non-empty parts joined with "/", then cleaned ("" when all are empty). */
export function joinPath(...parts: string[]): string {
  const nonEmpty = parts.filter((part) => part !== '');
  return nonEmpty.length === 0 ? '' : cleanPath(nonEmpty.join('/'));
}

/** Go's path.Base. */
export function basePath(path: string): string {
  if (path === '') return '.';
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/**
 * An absolute path for `newPath` relative to `parent`. An absolute `newPath` is kept as written, as
 * BuildKit does on Linux; with `keepSlash`, a trailing "/" or "/." survives.
 */
export function normalizePath(parent: string, newPath: string, keepSlash: boolean): string {
  const original = newPath;
  let base = parent === '' ? '/' : parent;
  if (!base.startsWith('/')) base = joinPath('/', base);
  let result = newPath === '' ? base : newPath;
  if (!result.startsWith('/')) result = joinPath(base, result);
  if (keepSlash) {
    if (original.endsWith('/') && !result.endsWith('/')) result += '/';
    else if (original.endsWith('/.')) {
      if (result !== '/') result += '/';
      result += '.';
    }
  }
  return result;
}

/** A COPY/ADD destination against the working directory; "." and "" mean the directory itself. */
export function resolveDestination(workdir: string, dest: string): string {
  if (dest.startsWith('/')) return normalizePath('/', dest, true);
  return normalizePath(workdir, dest === '.' || dest === '' ? './' : dest, true);
}
