/**
 * Writes placed COPY/ADD entries into a mounted root filesystem. Paths are resolved inside the root
 * (a symlink in the image never sends a write to the host); an existing file or link at a target is
 * replaced, never written through. Directories are created first, then files in parallel, then
 * directory metadata deepest first so that their mtimes survive the writes below them. As in
 * BuildKit, a directory that already exists keeps its own owner and mode.
 */
import { constants } from 'node:fs';
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import { concurrencyLimiter } from '../../util/concurrency.js';
import { GantryError } from '../../util/errors.js';
import { resolveInRoot } from '../../util/scoped-path.js';
import type { PlacedEntry } from './copy-plan.js';

export interface Ownership {
  uid: number;
  gid: number;
}

export interface ApplyOptions {
  /** --chown: every copied entry and every directory created for them. */
  chown?: Ownership;
  /** --chmod: mode for every copied entry. */
  chmod?: number;
}

export async function applyCopy(rootfs: string, placed: PlacedEntry[], options: ApplyOptions): Promise<void> {
  const owner = (p: PlacedEntry): Ownership => options.chown ?? (p.preserveOwner ? { uid: p.entry.uid, gid: p.entry.gid } : { uid: 0, gid: 0 });
  const done = new Set<string>();
  const created = new Set<string>();

  // Pass 1: copied directories and the parents of every entry, in order (parents first).
  const dirs = placed.filter((p) => p.entry.type === 'dir');
  const dirTargets = new Set(dirs.map((p) => posix.normalize(p.target)));
  for (const p of placed) {
    await ensureParents(rootfs, posix.dirname(p.target), options.chown ?? { uid: 0, gid: 0 }, done, created);
    if (!dirTargets.has(posix.normalize(p.target))) continue;
    const host = await resolveInRoot(rootfs, p.target);
    const existing = await lstat(host).catch(() => undefined);
    if (existing && !existing.isDirectory()) await rm(host, { recursive: true, force: true });
    if (!existing || !existing.isDirectory()) {
      await mkdir(host, { mode: 0o700 });
      created.add(posix.normalize(p.target));
    }
    done.add(posix.normalize(p.target));
  }

  // Pass 2: files and links, in parallel.
  const limit = concurrencyLimiter(16);
  await Promise.all(
    placed
      .filter((p) => p.entry.type !== 'dir')
      .map((p) =>
        limit(async () => {
          const parent = await resolveInRoot(rootfs, posix.dirname(p.target));
          const host = posix.join(parent, posix.basename(p.target));
          const existing = await lstat(host).catch(() => undefined);
          if (existing) await rm(host, { recursive: existing.isDirectory(), force: true });
          const { uid, gid } = owner(p);
          if (p.entry.type === 'symlink') {
            await symlink(p.entry.linkTarget ?? '', host);
            await lchown(host, uid, gid);
            await lutimes(host, p.entry.mtime, p.entry.mtime);
            return;
          }
          await copyFile(p.entry.hostPath, host, constants.COPYFILE_FICLONE);
          await lchown(host, uid, gid);
          // chmod after chown: chown clears setuid/setgid bits.
          await chmod(host, options.chmod ?? p.entry.mode);
          await utimes(host, p.entry.mtime, p.entry.mtime);
        }),
      ),
  );

  // Pass 3: metadata of the directories this copy created, deepest first.
  for (const p of [...dirs].sort((a, b) => b.target.length - a.target.length)) {
    if (!created.has(posix.normalize(p.target))) continue;
    const host = await resolveInRoot(rootfs, p.target);
    const { uid, gid } = owner(p);
    await lchown(host, uid, gid);
    await chmod(host, options.chmod ?? p.entry.mode);
    await utimes(host, p.entry.mtime, p.entry.mtime);
  }
}

/** mkdir -p inside a root: new directories get mode 0755 and `owner`. */
export async function mkdirAllInRoot(rootfs: string, dir: string, owner: Ownership): Promise<void> {
  await ensureParents(rootfs, dir, owner, new Set(), new Set());
}

/** MkdirAll for the destination's parents: new directories get mode 0755 and the --chown owner (BuildKit's rule). */
async function ensureParents(rootfs: string, dir: string, owner: Ownership, done: Set<string>, created: Set<string>): Promise<void> {
  if (dir === '/' || dir === '.' || done.has(dir)) return;
  await ensureParents(rootfs, posix.dirname(dir), owner, done, created);
  const host = await resolveInRoot(rootfs, dir);
  const existing = await lstat(host).catch(() => undefined);
  if (!existing) {
    await mkdir(host, { mode: 0o755 });
    await chmod(host, 0o755);
    await lchown(host, owner.uid, owner.gid);
    created.add(dir);
  } else if (!existing.isDirectory()) {
    throw new GantryError(`cannot copy into ${dir}: it is not a directory in the image`, { hint: 'choose a destination whose parent directories are directories' });
  }
  done.add(dir);
}
