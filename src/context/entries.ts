/**
 * Selected entries and how they are digested. A digest covers exactly, per entry: its path, type,
 * permission and special mode bits, uid, gid, and its content (a file's SHA-256, a link's target,
 * a device's number, a directory's sorted children). Times, inode numbers and link counts never
 * enter it.
 */
import { type BigIntStats, readlinkSync } from 'node:fs';
import { digestHex, sha256, type Digest } from '../util/index.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'fifo' | 'char-device' | 'block-device';

/** One entry to copy. */
export interface SelectedEntry {
  /** Path below the match, '/'-separated: '' for the match itself, else e.g. 'lib/util.js'. */
  path: string;
  /** Absolute path of the entry on disk. */
  sourcePath: string;
  type: EntryType;
  /** Permission and special bits (setuid, setgid, sticky): `st_mode & 0o7777`. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes: a file's length, a link target's length, 0 for anything else. */
  size: number;
  /** A symlink's target, as stored (links are copied as links, never followed). */
  linkTarget?: string;
  /** A device's number (st_rdev). */
  rdev?: number;
  /** A file's content digest. */
  digest?: Digest;
  /** Modification time in whole seconds, kept by COPY; never part of any digest. */
  mtime: number;
  /** For a file with several names: "<dev>:<ino>", so a copy can keep them hardlinked; never part of any digest. */
  linkKey?: string;
}

const TYPE_CODES: Record<EntryType, string> = {
  file: 'f',
  directory: 'd',
  symlink: 'l',
  fifo: 'p',
  'char-device': 'c',
  'block-device': 'b',
};

export function typeCode(type: EntryType): string {
  return TYPE_CODES[type];
}

/**
 * The entry for a path given its lstat result; undefined for a socket, which an image cannot hold
 * (Docker leaves sockets out of the build context too).
 */
export function entryFromStats(path: string, sourcePath: string, stats: BigIntStats): SelectedEntry | undefined {
  const mode = Number(stats.mode & 0o7777n);
  const uid = Number(stats.uid);
  const gid = Number(stats.gid);
  const mtime = Number(stats.mtimeNs / 1_000_000_000n);
  if (stats.isFile()) {
    const entry: SelectedEntry = { path, sourcePath, type: 'file', mode, uid, gid, size: Number(stats.size), mtime };
    if (stats.nlink > 1n) entry.linkKey = `${stats.dev}:${stats.ino}`;
    return entry;
  }
  if (stats.isDirectory()) return { path, sourcePath, type: 'directory', mode, uid, gid, size: 0, mtime };
  if (stats.isSymbolicLink()) {
    const linkTarget = readlinkSync(sourcePath);
    return { path, sourcePath, type: 'symlink', mode, uid, gid, size: Buffer.byteLength(linkTarget), linkTarget, mtime };
  }
  if (stats.isFIFO()) return { path, sourcePath, type: 'fifo', mode, uid, gid, size: 0, mtime };
  const rdev = Number(stats.rdev);
  if (stats.isCharacterDevice()) return { path, sourcePath, type: 'char-device', mode, uid, gid, size: 0, rdev, mtime };
  if (stats.isBlockDevice()) return { path, sourcePath, type: 'block-device', mode, uid, gid, size: 0, rdev, mtime };
  return undefined;
}

/** Depth of an entry below its match: 0 for the match itself, 1 for its children... */
export function entryDepth(path: string): number {
  if (path === '') return 0;
  let depth = 1;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) depth++;
  return depth;
}

/**
 * Each entry's content, in tree order: a file's digest (hex), a directory's hash over its
 * children's records (hex), a link's target, a device's number, '' for a FIFO. Files must have
 * their digests; `entries` must be in tree order (parents first, siblings sorted by name).
 */
export function entryPayloads(entries: readonly SelectedEntry[]): string[] {
  const payloads = new Array<string>(entries.length);
  // Directories still collecting their children's records, innermost last.
  const open: Array<{ index: number; depth: number; records: string[] }> = [];
  const close = (): void => {
    const dir = open.pop() as { index: number; records: string[] };
    const payload = digestHex(sha256(`gantry.directory/v1\n${dir.records.join('')}`));
    payloads[dir.index] = payload;
    addToParent(entries[dir.index] as SelectedEntry, payload);
  };
  const addToParent = (entry: SelectedEntry, payload: string): void => {
    const parent = open.at(-1);
    if (parent !== undefined) parent.records.push(entryRecord(entry, entry.path.slice(entry.path.lastIndexOf('/') + 1), payload));
  };
  entries.forEach((entry, index) => {
    const depth = entryDepth(entry.path);
    while (open.length > 0 && (open.at(-1) as { depth: number }).depth >= depth) close();
    switch (entry.type) {
      case 'directory':
        open.push({ index, depth, records: [] });
        return;
      case 'file':
        if (entry.digest === undefined) throw new Error(`internal: ${entry.sourcePath} was not hashed`);
        payloads[index] = digestHex(entry.digest);
        break;
      case 'symlink':
        payloads[index] = entry.linkTarget ?? '';
        break;
      case 'char-device':
      case 'block-device':
        payloads[index] = String(entry.rdev ?? 0);
        break;
      case 'fifo':
        payloads[index] = '';
        break;
    }
    addToParent(entry, payloads[index] as string);
  });
  while (open.length > 0) close();
  return payloads;
}

/** The line an entry contributes to its parent's hash (or, for a match, to the selection's). */
export function entryRecord(entry: SelectedEntry, name: string, payload: string): string {
  // Length prefixes keep names and link targets with spaces or newlines unambiguous.
  return `${typeCode(entry.type)} ${entry.mode.toString(8)} ${entry.uid} ${entry.gid} ${name.length}:${name} ${payload.length}:${payload}\n`;
}
