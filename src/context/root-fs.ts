/**
 * Path resolution confined to a root directory, as BuildKit resolves COPY sources (continuity's
 * RootPath): the root acts as "/" for every symlink on the way, so an absolute link target or a
 * ".." that would climb above the root lands back inside it. Nothing outside the root is read.
 */
import { lstatSync, readlinkSync, type BigIntStats } from 'node:fs';
import { GantryError, errnoCode } from '../util/index.js';
import { joinRelative } from './go-path.js';

/** Symlinks followed while resolving one path before giving up, as BuildKit's resolver allows. */
const MAX_LINKS = 255;

/**
 * Decides that a path present on disk does not exist for the purpose at hand (e.g. .dockerignore'd).
 * `isFinal` is set for the last component of the path being resolved.
 */
export type HiddenPredicate = (relativePath: string, stats: BigIntStats, isFinal: boolean) => boolean;

export interface ResolvedPath {
  /** The resolved path relative to the root, '.' for the root itself. */
  path: string;
  /** The final entry's stats, or undefined when it does not exist (or is hidden). */
  stats: BigIntStats | undefined;
}

/** lstat that answers undefined for a missing entry (or a file used as a directory). */
export function lstatOrUndefined(absolutePath: string): BigIntStats | undefined {
  try {
    return lstatSync(absolutePath, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if (errnoCode(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * Resolves `relativePath` (clamped and cleaned, '.' for the root) inside `root`, following every
 * symlink on the way; the final component is followed too when `followFinal` is set. A component
 * that is missing or hidden makes the result missing.
 */
export function resolveInRoot(root: string, relativePath: string, followFinal: boolean, isHidden?: HiddenPredicate): ResolvedPath {
  const pending = relativePath === '.' ? [] : relativePath.split('/');
  const resolved: string[] = [];
  let linksFollowed = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = joinRelative(resolved.join('/'), part);
    const stats = lstatOrUndefined(`${root}/${candidate}`);
    if (stats === undefined || isHidden?.(candidate, stats, pending.length === 0)) {
      return { path: [candidate, ...pending].filter((p) => p !== '').join('/'), stats: undefined };
    }
    if (stats.isSymbolicLink() && (pending.length > 0 || followFinal)) {
      if (++linksFollowed > MAX_LINKS) {
        throw new GantryError(`too many levels of symbolic links resolving "${relativePath}"`, {
          hint: 'a symlink loop: check the links along this path',
        });
      }
      const target = readlinkSync(`${root}/${candidate}`);
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...target.split('/'));
      continue;
    }
    resolved.push(part);
  }
  const path = resolved.length === 0 ? '.' : resolved.join('/');
  return { path, stats: lstatOrUndefined(path === '.' ? root : `${root}/${path}`) };
}
