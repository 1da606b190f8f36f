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
import { constants } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import { concurrencyLimiter } from '../../util/concurrency.js';
import { GantryError } from '../../util/errors.js';
import { resolveInRoot } from '../../util/scoped-path.js';
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

export async function applyCopy(rootfs: string, placed: PlacedEntry[], options: ApplyOptions): Promise<void> {
  const created: MkdirOptions = { owner: options.chown ?? ROOT, mode: options.chmod?.octal ?? DEFAULT_DIR_MODE };
  const ownerOf = (p: PlacedEntry): Ownership => options.chown ?? (p.preserveOwner ? { uid: p.entry.uid, gid: p.entry.gid } : ROOT);
  const modeOf = (p: PlacedEntry): number => (options.chmod ? options.chmod.apply(p.entry.mode, p.entry.type === 'dir') : p.entry.mode);
  const lastAt = new Map<string, PlacedEntry>();
  for (const p of placed) lastAt.set(posix.normalize(p.target), p);
  const ensured = new Set<string>();

  // Pass 1: the parents of every entry and the copied directories, in order (parents first).
  const dirs: PlacedEntry[] = [];
  for (const p of placed) {
    await ensureParents(rootfs, posix.dirname(posix.normalize(p.target)), created, ensured);
    if (p.entry.type !== 'dir') continue;
    const host = await resolveInRoot(rootfs, p.target);
    const existing = await lstat(host).catch(() => undefined);
    if (existing && !existing.isDirectory()) await rm(host, { recursive: true, force: true });
    if (!existing?.isDirectory()) {
      await mkdir(host, { mode: 0o700 });
      // The source directory itself: its contents go into a destination made like mkdir -p.
      if (p.entry.rel === '') await setOwnerAndMode(host, created.owner, created.mode);
    }
    ensured.add(posix.normalize(p.target));
    dirs.push(p);
  }

  // Pass 2: files and links, in parallel; then the second and later names of hardlinked files.
  const files = placed.filter((p) => p.entry.type !== 'dir' && lastAt.get(posix.normalize(p.target)) === p);
  const firstOfInode = new Map<string, string>();
  const hardlinks: Array<{ p: PlacedEntry; to: string }> = [];
  const copies: PlacedEntry[] = [];
  for (const p of files) {
    const inode = p.entry.type === 'file' ? await hardlinkIdentity(p) : undefined;
    const first = inode && firstOfInode.get(inode);
    if (first) hardlinks.push({ p, to: first });
    else {
      if (inode) firstOfInode.set(inode, p.target);
      copies.push(p);
    }
  }
  const limit = concurrencyLimiter(16);
  await Promise.all(copies.map((p) => limit(() => writeEntry(rootfs, p, ownerOf(p), modeOf(p)))));
  for (const { p, to } of hardlinks) {
    const host = await replaceableTarget(rootfs, p.target);
    await link(await resolveInRoot(rootfs, to, false), host);
  }

  // Pass 3: directory metadata, deepest first (a later source's directory at the same path wins).
  const order = dirs.map((p, index) => ({ p, index })).sort((a, b) => b.p.target.length - a.p.target.length || a.index - b.index);
  for (const { p } of order) {
    const host = await resolveInRoot(rootfs, p.target);
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
  await ensureParents(rootfs, posix.normalize(dir), { owner, mode: DEFAULT_DIR_MODE }, new Set());
}

/** MkdirAll for a destination's parents: new directories get the --chown owner and mode 0755 (or an octal --chmod), as in BuildKit. */
async function ensureParents(rootfs: string, dir: string, options: MkdirOptions, ensured: Set<string>): Promise<void> {
  if (dir === '/' || dir === '.' || ensured.has(dir)) return;
  await ensureParents(rootfs, posix.dirname(dir), options, ensured);
  const host = await resolveInRoot(rootfs, dir);
  const existing = await lstat(host).catch(() => undefined);
  if (!existing) {
    await mkdir(host);
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

/** Where to write an entry: its parent resolved in the root, whatever is at its own name removed. */
async function replaceableTarget(rootfs: string, target: string): Promise<string> {
  const host = posix.join(await resolveInRoot(rootfs, posix.dirname(target)), posix.basename(target));
  const existing = await lstat(host).catch(() => undefined);
  if (existing) await rm(host, { recursive: existing.isDirectory(), force: true });
  return host;
}

async function writeEntry(rootfs: string, p: PlacedEntry, owner: Ownership, mode: number): Promise<void> {
  const host = await replaceableTarget(rootfs, p.target);
  if (p.entry.type === 'symlink') {
    await symlink(p.entry.linkTarget ?? '', host);
    await lchown(host, owner.uid, owner.gid);
    await lutimes(host, p.entry.mtime, p.entry.mtime);
    return;
  }
  await copyFile(p.entry.hostPath, host, constants.COPYFILE_FICLONE);
  await setOwnerAndMode(host, owner, mode);
  await utimes(host, p.entry.mtime, p.entry.mtime);
}

/** The source and inode of a file with other names, which are written as hardlinks to its first copy. */
async function hardlinkIdentity(p: PlacedEntry): Promise<string | undefined> {
  const st = await lstat(p.entry.hostPath, { bigint: true });
  return st.nlink > 1n ? `${p.source}:${st.dev}:${st.ino}` : undefined;
}
