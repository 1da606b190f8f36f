/**
 * Resolves a path inside a root directory as if the root were `/` (like a chroot): symlinks are
 * followed, but an absolute link target restarts at the root and `..` never climbs above it. Used
 * wherever gantry reads or writes inside an image's filesystem, so that a link in the image can never
 * point gantry at the host.
 */
import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, GantryError } from './errors.js';

const MAX_LINKS = 255;

/**
 * Returns the host path for `path` inside `root`. Every component but the last is resolved; the last
 * is resolved too unless `followLast` is false. Missing components are kept as they are (the result may
 * not exist yet).
 */
export async function resolveInRoot(root: string, path: string, followLast = true): Promise<string> {
  const pending = splitPath(path);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    if (pending.length === 0 && !followLast) {
      resolved.push(part);
      break;
    }
    let target: string | undefined;
    try {
      const st = await lstat(candidate);
      if (st.isSymbolicLink()) target = await readlink(candidate);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_LINKS) {
      throw new GantryError(`too many levels of symbolic links resolving ${path}`);
    }
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...splitPath(target));
  }
  return join(root, ...resolved);
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}
