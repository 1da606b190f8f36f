/**
 * Slash-separated path helpers with Go's `path.Clean` / `path.Dir` semantics. Docker's pattern
 * matching and BuildKit's source resolution are defined in terms of these, and Node's posix
 * helpers differ in corner cases (Node keeps a trailing slash, and `normalize('')` is '.').
 */

/** Go's path.Clean: shortest equivalent path; '' becomes '.', '..' above a rooted path is dropped. */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  // Leading '..' components a relative path cannot drop.
  let unresolvedParents = 0;
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > unresolvedParents) out.pop();
      else if (!rooted) {
        out.push('..');
        unresolvedParents++;
      }
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Go's path.Dir: everything before the last slash, cleaned ('.' when there is no slash). */
export function dirPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return cleanPath(path.slice(0, slash + 1));
}

/** Last element of a cleaned relative path ('.' for the root). */
export function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? path : path.slice(slash + 1);
}

/** Joins a relative directory path ('' or '.' for the root) and a child name. */
export function joinRelative(dir: string, name: string): string {
  return dir === '' || dir === '.' ? name : `${dir}/${name}`;
}

/**
 * Clamps a source path to its root as BuildKit does: it is joined onto "/" and cleaned, so `../x`
 * names `x` at the root. Returns the path relative to the root, '.' for the root itself.
 */
export function clampToRoot(path: string): string {
  const cleaned = cleanPath(`/${path}`);
  return cleaned === '/' ? '.' : cleaned.slice(1);
}

/**
 * Orders relative paths component by component, so a directory's contents sort right after it
 * ("a", "a/b", "a.txt"), the order a depth-first walk with sorted names produces.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const pa = a === '' ? [] : a.split('/');
  const pb = b === '' ? [] : b.split('/');
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    if (pa[i] !== pb[i]) return (pa[i] as string) < (pb[i] as string) ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** True when `path` is strictly inside directory `dir` (both relative; '' is the root). */
export function isInside(path: string, dir: string): boolean {
  if (dir === '') return path !== '';
  return path.length > dir.length && path.startsWith(dir) && path.charCodeAt(dir.length) === 0x2f;
}
