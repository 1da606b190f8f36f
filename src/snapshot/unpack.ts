/**
 * Applies a layer tar to a directory.
 *
 * - 'overlay' mode: the directory is a fresh overlayfs lower layer. `.wh.<name>` becomes a whiteout
 *   (char device 0/0 named <name>) and `.wh..wh..opq` sets trusted.overlay.opaque=y on its directory.
 * - 'merged' mode: the directory holds the full tree of the layers below (copy snapshotter).
 *   `.wh.<name>` removes <name>; `.wh..wh..opq` removes the directory's contents that did not come
 *   from this layer.
 *
 * Nothing is ever written outside the root: names with '..' are refused, absolute names are taken
 * relative to the root, symlinks met on the way to an entry are resolved as if the root were '/', and
 * an entry's own name is never followed.
 */
import { constants as fsConstants } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, readlink, realpath, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, GantryError, errnoCode, isGantryError, quoteForMessage } from '../util/index.js';
import { classifyWhiteout, normalizeLayerPath, type ByteSource, type TarEntryHeader, TarReader, TypeFlag } from '../image/index.js';
import { type SpecialFile, type XattrAssignment, createSpecialFiles, setXattrs } from './fsops.js';

export type UnpackMode = 'overlay' | 'merged';

export interface UnpackOptions {
  mode: UnpackMode;
  /** Names the layer in errors (a digest or a file name); default "(stream)". */
  layer?: string;
  /** Apply the entries' uid/gid; default: when running as root. */
  sameOwner?: boolean;
}

export interface UnpackResult {
  /** sha256 of all tar bytes read: compare with the image config's diff_id. */
  diffId: Digest;
  /** Tar bytes read. */
  size: number;
  /** Entries applied (whiteouts included). */
  entries: number;
}

const MAX_SYMLINK_HOPS = 40;
const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** Xattrs a layer may not set: overlay's own would change how the mount reads this directory. */
function isForbiddenXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

/** A name from a layer for a message: quoted, and cut short (a PAX path can be megabytes long). */
function quoteName(name: string): string {
  return quoteForMessage(name, 200);
}

/** uid_t and gid_t are 32 bits, and -1 (all ones) means "unchanged" to chown. */
function isLinuxId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id < 0xffffffff;
}

function isUnder(path: string, ancestor: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}/`);
}

class LayerUnpacker {
  /** Real paths (relative to root) this layer wrote, for opaque markers and hardlink targets. */
  private readonly unpacked = new Set<string>();
  /** Directories created only to hold an entry; kept (and looked into) when an opaque marker clears a directory. */
  private readonly implicitDirs = new Set<string>();
  private readonly dirTimes = new Map<string, number>();
  private readonly pendingSpecial = new Map<string, SpecialFile>();
  private readonly pendingXattrs = new Map<string, XattrAssignment[]>();
  private readonly sameOwner: boolean;

  constructor(private readonly root: string, private readonly options: UnpackOptions, private readonly layer: string) {
    this.sameOwner = options.sameOwner ?? process.getuid?.() === 0;
  }

  private full(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  private error(entry: string, message: string, hint?: string): GantryError {
    return new GantryError(`layer ${this.layer}: entry ${quoteName(entry)}: ${message}`, hint === undefined ? {} : { hint });
  }

  /**
   * Resolves `components` inside the root, following symlinks as if the root were '/', and returns the real
   * path relative to root. Missing directories are created when `create` is set.
   */
  private async resolveDir(components: string[], entry: string, create: boolean): Promise<string> {
    const pending = [...components];
    const resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const rel = [...resolved, part].join('/');
      if (this.pendingSpecial.has(rel)) throw this.error(entry, `${quoteName(rel)} is not a directory`);
      const full = this.full(rel);
      let st;
      try {
        st = await lstat(full);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        if (!create) throw this.error(entry, `${quoteName(rel)} does not exist`);
        await mkdir(full, 0o755);
        this.implicitDirs.add(rel);
        resolved.push(part);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw this.error(entry, `too many levels of symbolic links at ${quoteName(rel)}`);
        const target = await readlink(full);
        if (target.startsWith('/')) resolved.length = 0;
        pending.unshift(...target.split('/'));
        continue;
      }
      if (!st.isDirectory()) throw this.error(entry, `${quoteName(rel)} is not a directory`);
      resolved.push(part);
    }
    return resolved.join('/');
  }

  /** Where entry `path` (normalized) lands: its parent resolved inside the root, its own name not followed. */
  private async locate(path: string, entry: string, create: boolean): Promise<string> {
    const parts = path.split('/');
    const base = parts.pop()!;
    const parent = await this.resolveDir(parts, entry, create);
    return parent === '' ? base : `${parent}/${base}`;
  }

  /** Removes `rel` and forgets pending work at or below it. */
  private async remove(rel: string, wasDir: boolean): Promise<void> {
    await rm(this.full(rel), { recursive: true, force: true });
    const forget = <T>(map: Map<string, T>): void => {
      if (!wasDir) {
        map.delete(rel);
        return;
      }
      for (const key of map.keys()) if (isUnder(key, rel)) map.delete(key);
    };
    forget(this.pendingSpecial);
    forget(this.dirTimes);
    const fullPath = this.full(rel);
    if (!wasDir) this.pendingXattrs.delete(fullPath);
    else for (const key of this.pendingXattrs.keys()) if (isUnder(key, fullPath)) this.pendingXattrs.delete(key);
  }

  private queueXattr(rel: string, name: string, value: Uint8Array): void {
    const full = this.full(rel);
    const list = this.pendingXattrs.get(full) ?? [];
    list.push({ path: full, name, value });
    this.pendingXattrs.set(full, list);
  }

  private async flushSpecial(): Promise<void> {
    const files = [...this.pendingSpecial.values()];
    this.pendingSpecial.clear();
    await createSpecialFiles(this.root, files, `layer ${this.layer}: creating device nodes`);
  }

  /** Empties directory `rel` of everything this layer did not write (merged mode's opaque marker). */
  private async clearLowerContent(rel: string): Promise<void> {
    for (const name of await readdir(this.full(rel))) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (this.unpacked.has(child) || this.implicitDirs.has(child) || this.pendingSpecial.has(child)) {
        const st = await lstat(this.full(child)).catch(() => undefined);
        if (st?.isDirectory()) await this.clearLowerContent(child);
        continue;
      }
      const st = await lstat(this.full(child));
      await this.remove(child, st.isDirectory());
    }
  }

  async apply(header: TarEntryHeader, reader: TarReader): Promise<void> {
    const path = (() => {
      try {
        return normalizeLayerPath(header.name);
      } catch {
        throw this.error(header.name, 'the path escapes the layer root', 'layer entries may not contain ".." components');
      }
    })();
    if (path === '') return; // the root itself: its metadata belongs to the snapshot, not the layer
    if (this.sameOwner && !(isLinuxId(header.uid) && isLinuxId(header.gid))) {
      throw this.error(header.name, `its owner ${header.uid}:${header.gid} is not a Linux user and group ID`, 'IDs run from 0 to 4294967294');
    }
    const whiteout = classifyWhiteout(path);
    if (whiteout.kind === 'meta') return;
    if (whiteout.kind === 'opaque') {
      const dir = await this.resolveDir(whiteout.dir === '' ? [] : whiteout.dir.split('/'), header.name, true);
      if (this.options.mode === 'overlay') this.queueXattr(dir, OPAQUE_XATTR, Buffer.from('y'));
      else await this.clearLowerContent(dir);
      return;
    }
    if (whiteout.kind === 'whiteout') {
      const target = await this.locate(whiteout.target, header.name, true);
      const existing = await lstat(this.full(target)).catch(() => undefined);
      if (existing) await this.remove(target, existing.isDirectory());
      this.pendingSpecial.delete(target);
      if (this.options.mode === 'overlay') {
        this.pendingSpecial.set(target, {
          path: target, type: 'char', mode: 0, uid: header.uid, gid: header.gid, mtime: Math.floor(header.mtime), devMajor: 0, devMinor: 0,
        });
        this.unpacked.add(target);
      }
      return;
    }

    const rel = await this.locate(path, header.name, true);
    const full = this.full(rel);
    const existing = await lstat(full).catch(() => undefined);
    if (existing && !(existing.isDirectory() && header.typeflag === TypeFlag.dir)) await this.remove(rel, existing.isDirectory());
    this.pendingSpecial.delete(rel);
    this.pendingXattrs.delete(full);

    // A hardlink to a symlink is a symlink too: chmod would follow it, to wherever it points.
    let isSymlink = header.typeflag === TypeFlag.symlink;
    switch (header.typeflag) {
      case TypeFlag.dir:
        if (!existing?.isDirectory()) await mkdir(full, header.mode & 0o777);
        this.implicitDirs.delete(rel);
        this.dirTimes.set(rel, header.mtime);
        break;
      case TypeFlag.file: {
        const handle = await open(full, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of reader.body()) await handle.write(chunk);
        } finally {
          await handle.close();
        }
        break;
      }
      case TypeFlag.symlink:
        await symlink(header.linkname, full);
        break;
      case TypeFlag.hardlink: {
        const targetPath = (() => {
          try {
            return normalizeLayerPath(header.linkname, 'hardlink target');
          } catch {
            throw this.error(header.name, `hardlink target ${quoteName(header.linkname)} escapes the layer root`);
          }
        })();
        if (targetPath === '') throw this.error(header.name, 'a hardlink cannot point at the layer root');
        const target = await this.locate(targetPath, header.name, false);
        if (this.options.mode === 'overlay' && !this.unpacked.has(target)) {
          throw this.error(header.name, `hardlink target ${quoteName(header.linkname)} is not in this layer before the link`);
        }
        if (this.pendingSpecial.has(target)) await this.flushSpecial();
        const targetStat = await lstat(this.full(target)).catch(() => undefined);
        if (targetStat === undefined) throw this.error(header.name, `hardlink target ${quoteName(header.linkname)} does not exist`);
        if (targetStat.isDirectory()) throw this.error(header.name, `hardlink target ${quoteName(header.linkname)} is a directory`);
        await link(this.full(target), full);
        isSymlink = targetStat.isSymbolicLink();
        break;
      }
      case TypeFlag.char:
      case TypeFlag.block:
      case TypeFlag.fifo:
        this.pendingSpecial.set(rel, {
          path: rel,
          type: header.typeflag === TypeFlag.char ? 'char' : header.typeflag === TypeFlag.block ? 'block' : 'fifo',
          mode: header.mode,
          uid: header.uid,
          gid: header.gid,
          mtime: Math.floor(header.mtime),
          devMajor: header.devMajor,
          devMinor: header.devMinor,
        });
        break;
      default:
        throw this.error(header.name, `unsupported tar entry type '${String.fromCharCode(header.typeflag)}'`);
    }
    this.unpacked.add(rel);

    const isSpecial = this.pendingSpecial.has(rel);
    for (const [name, value] of header.xattrs) {
      if (isForbiddenXattr(name)) continue;
      // The kernel keeps user.* xattrs to regular files and directories.
      if (name.startsWith('user.') && (isSymlink || isSpecial)) continue;
      this.queueXattr(rel, name, value);
    }
    if (isSpecial) return; // tar sets mode, owner and mtime when it creates the node
    if (this.sameOwner) await lchown(full, header.uid, header.gid);
    // chmod after chown: chown clears setuid/setgid.
    if (!isSymlink) await chmod(full, header.mode);
    if (header.typeflag !== TypeFlag.dir) await lutimes(full, header.mtime, header.mtime);
  }

  async finish(): Promise<void> {
    await this.flushSpecial();
    const xattrs = [...this.pendingXattrs.values()].flat();
    this.pendingXattrs.clear();
    await setXattrs(xattrs, `layer ${this.layer}: setting extended attributes`);
    // Directory times last: creating their contents changed them.
    for (const [rel, mtime] of this.dirTimes) await utimes(this.full(rel), mtime, mtime);
  }
}

/**
 * Applies the (decompressed) layer tar `tar` to `root` and returns the diffID of the bytes read.
 * Errors name the layer and the entry; on error the directory is left partly written.
 */
export async function unpackLayer(tar: ByteSource, root: string, options: UnpackOptions): Promise<UnpackResult> {
  const layer = options.layer ?? '(stream)';
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (err) {
    throw new GantryError(`cannot unpack layer ${layer}: target directory ${root} does not exist`, { cause: err });
  }
  const reader = new TarReader(tar, layer);
  const unpacker = new LayerUnpacker(realRoot, options, layer);
  let entries = 0;
  try {
    for (let header = await reader.next(); header !== undefined; header = await reader.next()) {
      try {
        await unpacker.apply(header, reader);
      } catch (err) {
        if (isGantryError(err)) throw err;
        throw new GantryError(`layer ${layer}: cannot unpack entry ${quoteName(header.name)}: ${errnoCode(err) ?? (err instanceof Error ? err.message : String(err))}`, { cause: err });
      }
      entries++;
    }
    await unpacker.finish();
    const diffId = await reader.finish();
    return { diffId, size: reader.bytesRead, entries };
  } catch (err) {
    await reader.close();
    throw err;
  }
}
