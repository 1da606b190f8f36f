/**
 * Writes placed COPY/ADD entries into a mounted root filesystem, with BuildKit's rules. Paths are
 * resolved inside the root (a symlink in the image never sends a write to the host); an existing
 * file or link at a target is replaced, never written through; when several entries land on one
 * path the last one wins. Directories the copy creates for a destination and its parents are made as
 * by `mkdir -p`: the --chown owner (else root) and mode 0755 (or an octal --chmod). A source
 * directory's own metadata goes nowhere but its time: its contents land in the destination, whose
 * owner and mode are kept when it exists. Directories inside a source take their metadata whether
 * they are new or not. Files of one source that are hardlinked stay hardlinked.
 * Directories are made first, then files in parallel, then directory metadata deepest first so that
 * their times survive the writes below them.
 */
import { chmodSync, constants, copyFileSync, lchownSync, utimesSync } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import { concurrencyLimiter, errnoCode, GantryError, resolveInRoot } from '../../util/index.js';
import type { ModeChange, PlacedEntry } from './copy-plan.js';

export interface Ownership {
  uid: number;
  gid: number;
}

export interface ApplyOptions {
  /** --chown: every copied entry and every directory created for them. */
  chown?: Ownership;
  /** --chmod: the mode of every copied entry. */
  chmod?: ModeChange;
}

const ROOT: Ownership = { uid: 0, gid: 0 };
const DEFAULT_DIR_MODE = 0o755;

/**
 * Directories of the target filesystem as this copy sees them: each resolved inside the root once, and
 * those the copy made itself known to be empty of anything it did not put there.
 */
class TargetDirs {
  private readonly resolved = new Map<string, string>();
  private readonly fresh = new Set<string>();

  constructor(readonly rootfs: string) {}

  async host(dir: string): Promise<string> {
    let host = this.resolved.get(dir);
    if (host === undefined) {
      host = await resolveInRoot(this.rootfs, dir);
      this.resolved.set(dir, host);
    }
    return host;
  }

  /** Records a directory this copy created (a real directory, so its children resolve by joining names). */
  made(dir: string, host: string): void {
    this.resolved.set(dir, host);
    this.fresh.add(dir);
  }

  isFresh(dir: string): boolean {
    return this.fresh.has(dir);
  }

  /** Where to write an entry: its parent resolved in the root, whatever is at its own name removed. */
  async replaceable(target: string): Promise<string> {
    const parent = posix.dirname(target);
    const host = posix.join(await this.host(parent), posix.basename(target));
    if (!this.fresh.has(parent)) {
      const existing = await lstat(host).catch(() => undefined);
      if (existing) await rm(host, { recursive: existing.isDirectory(), force: true });
    }
    return host;
  }
}

export async function applyCopy(rootfs: string, placed: PlacedEntry[], options: ApplyOptions): Promise<void> {
  const dirsInTarget = new TargetDirs(rootfs);
  const created: MkdirOptions = { owner: options.chown ?? ROOT, mode: options.chmod?.octal ?? DEFAULT_DIR_MODE };
  const ownerOf = (p: PlacedEntry): Ownership => options.chown ?? (p.preserveOwner ? { uid: p.entry.uid, gid: p.entry.gid } : ROOT);
  const modeOf = (p: PlacedEntry): number => (options.chmod ? options.chmod.apply(p.entry.mode, p.entry.type === 'dir') : p.entry.mode);
  const lastAt = new Map<string, PlacedEntry>();
  for (const p of placed) lastAt.set(posix.normalize(p.target), p);
  const ensured = new Set<string>();

  // Pass 1: the parents of every entry and the copied directories, in order (parents first).
  const dirs: PlacedEntry[] = [];
  for (const p of placed) {
    const target = posix.normalize(p.target);
    await ensureParents(dirsInTarget, posix.dirname(target), created, ensured);
    if (p.entry.type !== 'dir') continue;
    const parent = posix.dirname(target);
    const host = dirsInTarget.isFresh(parent) ? posix.join(await dirsInTarget.host(parent), posix.basename(target)) : await dirsInTarget.host(target);
    const existing = dirsInTarget.isFresh(parent) || dirsInTarget.isFresh(target) ? undefined : await lstat(host).catch(() => undefined);
    if (existing && !existing.isDirectory()) await rm(host, { recursive: true, force: true });
    if (!dirsInTarget.isFresh(target) && !existing?.isDirectory()) {
      await mkdir(host, { mode: 0o700 });
      dirsInTarget.made(target, host);
      // The source directory itself: its contents go into a destination made like mkdir -p.
      if (p.entry.rel === '') await setOwnerAndMode(host, created.owner, created.mode);
    }
    ensured.add(target);
    dirs.push(p);
  }

  // Pass 2: files and links, in parallel; then the second and later names of hardlinked files.
  const files = placed.filter((p) => p.entry.type !== 'dir' && lastAt.get(posix.normalize(p.target)) === p);
  const firstOfInode = new Map<string, string>();
  const hardlinks: Array<{ p: PlacedEntry; to: string }> = [];
  const copies: PlacedEntry[] = [];
  for (const p of files) {
    const inode = p.entry.linkKey !== undefined ? `${p.source}:${p.entry.linkKey}` : undefined;
    const first = inode && firstOfInode.get(inode);
    if (first) hardlinks.push({ p, to: first });
    else {
      if (inode) firstOfInode.set(inode, p.target);
      copies.push(p);
    }
  }
  const limit = concurrencyLimiter(16);
  await Promise.all(copies.map((p) => limit(() => writeEntry(dirsInTarget, p, ownerOf(p), modeOf(p)).catch((err: unknown) => Promise.reject(sourceVanished(err, p))))));
  for (const { p, to } of hardlinks) {
    const host = await dirsInTarget.replaceable(posix.normalize(p.target));
    await link(posix.join(await dirsInTarget.host(posix.dirname(posix.normalize(to))), posix.basename(to)), host);
  }

  // Pass 3: directory metadata, deepest first (a later source's directory at the same path wins).
  const order = dirs.map((p, index) => ({ p, index })).sort((a, b) => b.p.target.length - a.p.target.length || a.index - b.index);
  for (const { p } of order) {
    const host = await dirsInTarget.host(posix.normalize(p.target));
    if (p.entry.rel !== '') await setOwnerAndMode(host, ownerOf(p), modeOf(p));
    await utimes(host, p.entry.mtime, p.entry.mtime);
  }
}

interface MkdirOptions {
  owner: Ownership;
  mode: number;
}

/** mkdir -p inside a root: new directories get mode 0755 and `owner`. */
export async function mkdirAllInRoot(rootfs: string, dir: string, owner: Ownership): Promise<void> {
  await ensureParents(new TargetDirs(rootfs), posix.normalize(dir), { owner, mode: DEFAULT_DIR_MODE }, new Set());
}

/**
 * MkdirAll for a destination's parents: new directories get the --chown owner and mode 0755 (or an
 * octal --chmod), as in BuildKit. A parent that is a symbolic link to a missing place has that place
 * created inside the image, its own missing parents first, as BuildKit's MkdirAll does.
 */
async function ensureParents(dirs: TargetDirs, dir: string, options: MkdirOptions, ensured: Set<string>): Promise<void> {
  if (dir === '/' || dir === '.' || ensured.has(dir)) return;
  await ensureParents(dirs, posix.dirname(dir), options, ensured);
  const host = await dirs.host(dir);
  const existing = await lstat(host).catch(() => undefined);
  if (!existing) {
    const inImage = `/${posix.relative(dirs.rootfs, host)}`;
    if (inImage !== dir) await ensureParents(dirs, posix.dirname(inImage), options, ensured);
    await mkdir(host);
    dirs.made(dir, host);
    await setOwnerAndMode(host, options.owner, options.mode);
  } else if (!existing.isDirectory()) {
    throw new GantryError(`cannot copy into ${dir}: it is not a directory in the image`, { hint: 'choose a destination whose parent directories are directories' });
  }
  ensured.add(dir);
}

/** chmod after chown: chown clears setuid/setgid bits. */
async function setOwnerAndMode(host: string, owner: Ownership, mode: number): Promise<void> {
  await lchown(host, owner.uid, owner.gid);
  await chmod(host, mode);
}

async function writeEntry(dirs: TargetDirs, p: PlacedEntry, owner: Ownership, mode: number): Promise<void> {
  const host = await dirs.replaceable(posix.normalize(p.target));
  if (p.entry.type === 'symlink') {
    await symlink(p.entry.linkTarget ?? '', host);
    await lchown(host, owner.uid, owner.gid);
    await lutimes(host, p.entry.mtime, p.entry.mtime);
    return;
  }
  if (p.entry.size <= SMALL_FILE) {
    // A small file's four system calls cost less done at once than queued through the thread pool.
    copyFileSync(p.entry.hostPath, host, constants.COPYFILE_FICLONE);
    lchownSync(host, owner.uid, owner.gid);
    chmodSync(host, mode);
    utimesSync(host, p.entry.mtime, p.entry.mtime);
    return;
  }
  await copyFile(p.entry.hostPath, host, constants.COPYFILE_FICLONE);
  await setOwnerAndMode(host, owner, mode);
  await utimes(host, p.entry.mtime, p.entry.mtime);
}

const SMALL_FILE = 64 * 1024;

/** A source file that disappeared between the plan and the copy: the context (or stage) changed under the build. */
function sourceVanished(err: unknown, p: PlacedEntry): unknown {
  if (errnoCode(err) !== 'ENOENT' || (err as NodeJS.ErrnoException).path !== p.entry.hostPath) return err;
  return new GantryError(`${p.entry.hostPath} disappeared while it was being copied to ${p.target}`, {
    hint: 'a file of the build context was removed during the build; build again once it stops changing',
    cause: err,
  });
}
