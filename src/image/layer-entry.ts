/**
 * One entry of a layer tar: the unit the diff produces, the tar writer encodes and the unpacker applies.
 * Whiteouts are ordinary entries named `.wh.<name>` / `.wh..wh..opq` (OCI image-spec, layer.md).
 */
import { GantryError, quoteForMessage } from '../util/index.js';

export type LayerEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

/** Where a file entry's content comes from. */
export type LayerEntrySource =
  | { kind: 'path'; path: string }
  | { kind: 'buffer'; data: Uint8Array };

export interface LayerEntry {
  /** Path relative to the layer root, '/'-separated, without a leading or trailing slash. */
  path: string;
  type: LayerEntryType;
  /** Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000); no file-type bits. */
  mode: number;
  uid: number;
  gid: number;
  /** Content length for 'file' entries; ignored for every other type. */
  size: number;
  /** Modification time in seconds since the epoch; the tar keeps whole seconds. */
  mtime: number;
  /** Symlink target (any text) or, for 'hardlink', the layer path of the entry it links to. */
  linkTarget?: string;
  devMajor?: number;
  devMinor?: number;
  /** Extended attributes by full name ("security.capability", "user.foo"), raw values. */
  xattrs?: ReadonlyMap<string, Uint8Array>;
  /** Content of a 'file' entry with size > 0. */
  source?: LayerEntrySource;
}

export const WHITEOUT_PREFIX = '.wh.';
/** Marks the directory holding it as opaque: lower layers' contents of it are hidden. */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** Names starting with this are whiteout metadata (aufs), never whiteouts of a file. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

function joinLayerPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

function splitLayerPath(path: string): { dir: string; base: string } {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? { dir: '', base: path } : { dir: path.slice(0, slash), base: path.slice(slash + 1) };
}

/**
 * The whiteout entry hiding `path` of lower layers: an empty regular file, mode 0, owned by root, mtime 0 —
 * what containerd (and so BuildKit) writes since containerd 2.0.
 */
export function whiteoutEntry(path: string): LayerEntry {
  const { dir, base } = splitLayerPath(path);
  return { path: joinLayerPath(dir, WHITEOUT_PREFIX + base), type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: 0 };
}

/**
 * The opaque marker for directory `dirPath`; like Docker it carries the directory's permission bits and owner.
 */
export function opaqueWhiteoutEntry(dirPath: string, dirMode: number, uid: number, gid: number): LayerEntry {
  return { path: joinLayerPath(dirPath, OPAQUE_WHITEOUT), type: 'file', mode: dirMode & 0o777, uid, gid, size: 0, mtime: 0 };
}

export type WhiteoutKind =
  | { kind: 'none' }
  | { kind: 'whiteout'; dir: string; target: string }
  | { kind: 'opaque'; dir: string }
  | { kind: 'meta' };

/** Classifies a normalized layer path: a plain entry, a whiteout of `dir/target`, an opaque marker of `dir`, or aufs metadata. */
export function classifyWhiteout(path: string): WhiteoutKind {
  const { dir, base } = splitLayerPath(path);
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  const target = base.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') {
    throw new GantryError(`invalid whiteout entry ${quoteForMessage(path, 200)}`, { hint: 'a whiteout names the file it hides: .wh.<name>' });
  }
  return { kind: 'whiteout', dir, target: joinLayerPath(dir, target) };
}

/**
 * Normalizes a path from a tar header or an entry to its '/'-joined components relative to the root:
 * a leading '/' and '.' components are dropped; '..' is refused.
 * Returns '' for the root itself.
 */
export function normalizeLayerPath(raw: string, what = 'entry'): string {
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new GantryError(`layer ${what} ${quoteForMessage(raw, 200)} escapes the layer root`, {
        hint: 'layer paths may not contain ".." components',
      });
    }
    parts.push(part);
  }
  return parts.join('/');
}
