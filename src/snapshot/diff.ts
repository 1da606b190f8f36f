/**
 * Filesystem changes as layer entries, in the order and shape Docker/BuildKit write them:
 * - overlayUpperEntries: an overlayfs upperdir already is the change set; whiteout devices and opaque
 *   directories become `.wh.` entries (Docker's overlay2 differ);
 * - treeDiffEntries: two full trees compared entry by entry (containerd's double-walk differ), for the
 *   copy snapshotter.
 * Entries come in byte-sorted depth-first order, each directory before its contents.
 */
import { open } from 'node:fs/promises';
import { lstatSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../util/index.js';
import { type LayerEntry, opaqueWhiteoutEntry, whiteoutEntry } from '../image/index.js';
import { type XattrMap, readdirSorted, readXattrTree } from './fsops.js';

const S_IFMT = 0o170000n;
const FILE_TYPES = new Map<bigint, LayerEntry['type'] | 'socket'>([
  [0o100000n, 'file'],
  [0o040000n, 'dir'],
  [0o120000n, 'symlink'],
  [0o020000n, 'char'],
  [0o060000n, 'block'],
  [0o010000n, 'fifo'],
  [0o140000n, 'socket'],
]);

function fileType(st: BigIntStats): LayerEntry['type'] | 'socket' {
  const type = FILE_TYPES.get(st.mode & S_IFMT);
  if (type === undefined) throw new GantryError(`unknown file type ${(st.mode & S_IFMT).toString(8)}`);
  return type;
}

/** Linux dev_t → major/minor (glibc's gnu_dev_major/minor). */
function deviceNumbers(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

/** Whole seconds, rounded down as Go's Time.Truncate does (also before 1970). */
function wholeSeconds(ns: bigint): number {
  const seconds = ns / 1_000_000_000n;
  return Number(ns < 0n && seconds * 1_000_000_000n !== ns ? seconds - 1n : seconds);
}

/**
 * Xattrs that belong in a layer. Overlay's own (trusted.overlay.*, user.overlay.*) describe this mount,
 * not the content; security.selinux is a label the host's policy assigns, which Docker never ships.
 */
function layerXattrs(attrs: XattrMap | undefined): Map<string, Buffer> | undefined {
  if (attrs === undefined) return undefined;
  const kept = new Map<string, Buffer>();
  for (const [name, value] of attrs) {
    if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.') || name === 'security.selinux') continue;
    kept.set(name, value);
  }
  return kept.size > 0 ? kept : undefined;
}

function sameXattrs(a: Map<string, Buffer> | undefined, b: Map<string, Buffer> | undefined): boolean {
  if ((a?.size ?? 0) !== (b?.size ?? 0)) return false;
  for (const [name, value] of a ?? []) {
    const other = b?.get(name);
    if (other === undefined || !other.equals(value)) return false;
  }
  return true;
}

function entryFromStat(path: string, fullPath: string, st: BigIntStats, xattrs: Map<string, Buffer> | undefined): LayerEntry {
  const type = fileType(st);
  if (type === 'socket') throw new Error('sockets are filtered out before entries are built');
  const entry: LayerEntry = {
    path,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: type === 'file' ? Number(st.size) : 0,
    mtime: wholeSeconds(st.mtimeNs),
  };
  if (type === 'file' && entry.size > 0) entry.source = { kind: 'path', path: fullPath };
  if (type === 'symlink') entry.linkTarget = readlinkSync(fullPath);
  if (type === 'char' || type === 'block') {
    const { major, minor } = deviceNumbers(st.rdev);
    entry.devMajor = major;
    entry.devMinor = minor;
  }
  if (xattrs !== undefined) entry.xattrs = xattrs;
  return entry;
}

function childPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function inodeKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

function isOpaque(attrs: XattrMap | undefined): boolean {
  for (const name of ['trusted.overlay.opaque', 'user.overlay.opaque']) {
    const value = attrs?.get(name);
    if (value !== undefined && value.length === 1 && value[0] === 0x79) return true;
  }
  return false;
}

/** Overlay features whose upperdir no longer holds the full change: refuse rather than write a wrong layer. */
function refuseIncompleteUpper(path: string, attrs: XattrMap | undefined): void {
  for (const [xattr, feature, option] of [
    ['overlay.redirect', 'redirect_dir (a renamed directory)', 'redirect_dir=off'],
    ['overlay.metacopy', 'metacopy (file data left in a lower layer)', 'metacopy=off'],
  ] as const) {
    if (attrs?.has(`trusted.${xattr}`) || attrs?.has(`user.${xattr}`)) {
      throw new GantryError(`overlay upperdir entry "${path}" uses overlayfs ${feature}, which a layer diff cannot be taken from`, {
        hint: `mount the overlay with ${option}`,
      });
    }
  }
}

/**
 * The layer entries of an overlayfs upperdir: every file and directory in it; whiteout devices (char 0/0)
 * as `.wh.<name>`; an opaque directory followed by its `.wh..wh..opq` marker; hardlinked files once as a
 * file, then as links to it. Xattrs are read with one getfattr run for the whole upperdir.
 */
export async function* overlayUpperEntries(upperDir: string): AsyncGenerator<LayerEntry> {
  const xattrs = await readXattrTree(upperDir);
  const firstLink = new Map<string, string>();

  async function* walk(dir: string): AsyncGenerator<LayerEntry> {
    for (const name of readdirSorted(join(upperDir, dir))) {
      const path = childPath(dir, name);
      const fullPath = join(upperDir, path);
      const st = lstatSync(fullPath, { bigint: true });
      const type = fileType(st);
      const attrs = xattrs.get(path);
      refuseIncompleteUpper(path, attrs);
      if (type === 'socket') continue;
      // Overlay may share one whiteout inode among many names: a whiteout is never a hardlink.
      if (type === 'char' && st.rdev === 0n) {
        yield whiteoutEntry(path);
        continue;
      }
      const entry = entryFromStat(path, fullPath, st, layerXattrs(attrs));
      if (type !== 'dir' && st.nlink > 1n) {
        const first = firstLink.get(inodeKey(st));
        if (first !== undefined) {
          yield asHardlink(entry, first);
          continue;
        }
        firstLink.set(inodeKey(st), path);
      }
      yield entry;
      if (type === 'dir') {
        if (isOpaque(attrs)) yield opaqueWhiteoutEntry(path, entry.mode, entry.uid, entry.gid);
        yield* walk(path);
      }
    }
  }
  yield* walk('');
}

function asHardlink(entry: LayerEntry, target: string): LayerEntry {
  const link: LayerEntry = { ...entry, type: 'hardlink', size: 0, linkTarget: target };
  delete link.source;
  delete link.devMajor;
  delete link.devMinor;
  return link;
}

export interface TreeDiffOptions {
  /**
   * When the upper tree was copied from the lower one (ns since the epoch, taken after the copy finished).
   * A file whose ctime is older (with one second of slack for the kernel's coarse clock) was not written
   * since the copy, so its content is not read when its size, mtime and metadata match. Without it, every
   * regular file whose metadata all match has its content compared.
   */
  copiedAtNs?: bigint;
}

const CTIME_SLACK_NS = 1_000_000_000n;
const COMPARE_CHUNK = 256 * 1024;

async function sameContent(a: string, b: string, size: number): Promise<boolean> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const bufA = Buffer.allocUnsafe(Math.min(COMPARE_CHUNK, size));
    const bufB = Buffer.allocUnsafe(bufA.length);
    for (let position = 0; position < size; ) {
      const want = Math.min(bufA.length, size - position);
      const [ra, rb] = await Promise.all([fa.read(bufA, 0, want, position), fb.read(bufB, 0, want, position)]);
      if (ra.bytesRead !== rb.bytesRead || ra.bytesRead === 0) return ra.bytesRead === rb.bytesRead && ra.bytesRead === 0;
      if (bufA.compare(bufB, 0, rb.bytesRead, 0, ra.bytesRead) !== 0) return false;
      position += ra.bytesRead;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The changes from `lowerDir` to `upperDir` (two full trees) as layer entries: added and modified entries
 * with their parent directories, `.wh.<name>` for removed ones. An entry counts as modified when its type,
 * mode, owner, device number, link target, layer xattrs, size or mtime differ, or — all of those equal —
 * when its content does (see TreeDiffOptions.copiedAtNs for when content is read). Directories are
 * compared by metadata only: a directory whose listing changed appears as the parent of the change.
 */
export async function* treeDiffEntries(lowerDir: string, upperDir: string, options: TreeDiffOptions = {}): AsyncGenerator<LayerEntry> {
  const [lowerXattrs, upperXattrs] = await Promise.all([readXattrTree(lowerDir), readXattrTree(upperDir)]);
  const emittedDirs = new Set<string>(['']);
  const linkSource = new Map<string, string>();
  const unchangedLinks = new Map<string, string[]>();

  async function* parentsOf(path: string): AsyncGenerator<LayerEntry> {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (emittedDirs.has(dir)) continue;
      emittedDirs.add(dir);
      const fullPath = join(upperDir, dir);
      yield entryFromStat(dir, fullPath, lstatSync(fullPath, { bigint: true }), layerXattrs(upperXattrs.get(dir)));
    }
  }

  async function* emit(entry: LayerEntry): AsyncGenerator<LayerEntry> {
    yield* parentsOf(entry.path);
    if (entry.type === 'dir') emittedDirs.add(entry.path);
    yield entry;
  }

  /** Emits an upper entry, as a hardlink when another name of its inode is already in the layer. */
  async function* emitUpper(path: string, st: BigIntStats, changed: boolean): AsyncGenerator<LayerEntry> {
    const fullPath = join(upperDir, path);
    const hardlinked = fileType(st) !== 'dir' && st.nlink > 1n;
    const key = inodeKey(st);
    if (hardlinked) {
      const source = linkSource.get(key);
      if (source !== undefined) {
        yield* emit(asHardlink(entryFromStat(path, fullPath, st, layerXattrs(upperXattrs.get(path))), source));
        return;
      }
      if (!changed) {
        // Unchanged, but if another name of this inode changes, this name must be linked to it in the layer.
        unchangedLinks.set(key, [...(unchangedLinks.get(key) ?? []), path]);
        return;
      }
    }
    if (!changed) return;
    const entry = entryFromStat(path, fullPath, st, layerXattrs(upperXattrs.get(path)));
    yield* emit(entry);
    if (hardlinked) {
      linkSource.set(key, path);
      for (const other of unchangedLinks.get(key) ?? []) {
        yield* emit(asHardlink({ ...entry, path: other }, path));
      }
      unchangedLinks.delete(key);
    }
  }

  async function* added(path: string, st: BigIntStats): AsyncGenerator<LayerEntry> {
    yield* emitUpper(path, st, true);
    if (fileType(st) !== 'dir') return;
    for (const name of readdirSorted(join(upperDir, path))) {
      const child = childPath(path, name);
      const childSt = lstatSync(join(upperDir, child), { bigint: true });
      if (fileType(childSt) === 'socket') continue;
      yield* added(child, childSt);
    }
  }

  async function modified(path: string, lower: BigIntStats, upper: BigIntStats): Promise<boolean> {
    if (lower.mode !== upper.mode || lower.uid !== upper.uid || lower.gid !== upper.gid || lower.rdev !== upper.rdev) return true;
    if (!sameXattrs(layerXattrs(lowerXattrs.get(path)), layerXattrs(upperXattrs.get(path)))) return true;
    const type = fileType(upper);
    if (type === 'dir') return false;
    if (lower.mtimeNs !== upper.mtimeNs) return true;
    if (type === 'symlink') return readlinkSync(join(lowerDir, path)) !== readlinkSync(join(upperDir, path));
    if (type !== 'file') return false;
    if (lower.size !== upper.size) return true;
    if (upper.size === 0n) return false;
    if (options.copiedAtNs !== undefined && upper.ctimeNs < options.copiedAtNs - CTIME_SLACK_NS) return false;
    return !(await sameContent(join(lowerDir, path), join(upperDir, path), Number(upper.size)));
  }

  async function* walk(dir: string): AsyncGenerator<LayerEntry> {
    const [lowerNames, upperNames] = [readdirSorted(join(lowerDir, dir)), readdirSorted(join(upperDir, dir))];
    let li = 0;
    let ui = 0;
    while (li < lowerNames.length || ui < upperNames.length) {
      const order = li >= lowerNames.length ? 1 : ui >= upperNames.length ? -1 : compareNames(lowerNames[li]!, upperNames[ui]!);
      const name = order < 0 ? lowerNames[li++]! : order > 0 ? upperNames[ui++]! : (li++, upperNames[ui++]!);
      const path = childPath(dir, name);
      if (order < 0) {
        yield* emit(whiteoutEntry(path));
        continue;
      }
      const upper = lstatSync(join(upperDir, path), { bigint: true });
      const upperType = fileType(upper);
      if (upperType === 'socket') continue;
      if (order > 0) {
        yield* added(path, upper);
        continue;
      }
      const lower = lstatSync(join(lowerDir, path), { bigint: true });
      if (fileType(lower) !== upperType) {
        // Replaced by another type: the new entry replaces the old one whole when applied.
        yield* added(path, upper);
        continue;
      }
      yield* emitUpper(path, upper, await modified(path, lower, upper));
      if (upperType === 'dir') yield* walk(path);
    }
  }
  yield* walk('');
}
