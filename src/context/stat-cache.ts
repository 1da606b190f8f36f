/**
 * A persistent map from a file's identity (path, size, mtime and ctime in nanoseconds, inode,
 * device, mode) to the digest of its content, so a rebuild re-reads only files whose stat changed.
 *
 * Never stale, like git's index:
 * - any change to size, times, inode, device or mode is a miss; rewriting a file and restoring its
 *   mtime still changes its ctime;
 * - a file modified in the same second as (or after) the session that hashed it started is "racy":
 *   a later write within the file system's timestamp granularity could leave its stat unchanged,
 *   so its digest is not kept, and it is hashed again whenever it is selected;
 * - the file is checksummed; a corrupt, truncated or foreign file is ignored and rebuilt.
 *
 * Format (little-endian): "GANTRYSC", u32 version, u32 generation, u32 count, then records sorted
 * by path, each: u16 characters shared with the previous path, u16 UTF-8 byte length of the rest,
 * the rest, u64 size, mtime ns, ctime ns, inode, device, u32 mode, u32 generation last used,
 * 32-byte SHA-256; then the SHA-256 of everything before it. Loading only indexes the paths;
 * records are compared in place.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { errnoCode, digestHex, type Digest, writeFileAtomic } from '../util/index.js';

/** The stat fields a cached digest is keyed on; node's BigIntStats has them all. */
export interface FileIdentity {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
  mode: bigint;
}

/** The identity fields of an lstat result (copied out, so the rest of the stat can be dropped). */
export function fileIdentity(stats: BigIntStats): FileIdentity {
  return { size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs, ino: stats.ino, dev: stats.dev, mode: stats.mode };
}

/** A digest recorded this session. */
interface FreshRecord {
  identity: FileIdentity;
  digest: Digest;
}

export type StatCacheLoadState = 'new' | 'loaded' | 'discarded';

export interface StatCacheOptions {
  /** Wall-clock time in nanoseconds since the epoch (tests move it to make fresh files non-racy). */
  now?: () => bigint;
}

const MAGIC = Buffer.from('GANTRYSC', 'latin1');
const VERSION = 1;
const HEADER_BYTES = MAGIC.length + 12;
/** size, mtime, ctime, inode, device (u64 each), mode, last used (u32 each), digest. */
const RECORD_BODY_BYTES = 5 * 8 + 4 + 4 + 32;
const IDENTITY_BYTES = 5 * 8;
const MODE_AT = IDENTITY_BYTES;
const LAST_USED_AT = IDENTITY_BYTES + 4;
const DIGEST_AT = IDENTITY_BYTES + 8;
const CHECKSUM_BYTES = 32;
/** Saves a digest survives without being used before it is dropped (deleted or moved files). */
const MAX_UNUSED_GENERATIONS = 16;
const NS_PER_SECOND = 1_000_000_000n;

export class StatCache {
  /** Digests recorded this session, by path. */
  private readonly fresh = new Map<string, FreshRecord>();
  private readonly scratch = Buffer.alloc(IDENTITY_BYTES);
  private dirty = false;

  private constructor(
    /** The cache file. */
    readonly file: string,
    /** The file as loaded; record bodies are compared in place, not decoded. */
    private readonly loaded: Buffer,
    /** Offset of each loaded record's body in `loaded`, by path. */
    private readonly loadedAt: Map<string, number>,
    /** Generation of this session: one more than the generation last saved. */
    private readonly generation: number,
    /** Whether the file existed and was usable. */
    readonly loadState: StatCacheLoadState,
    /** Start of this session, floored to the second: files changed since then are racy. */
    private readonly racyFrom: bigint,
  ) {}

  /** Opens the cache file at `file`; a missing or unusable file gives an empty cache. */
  static async open(file: string, options: StatCacheOptions = {}): Promise<StatCache> {
    const now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
    const racyFrom = (now() / NS_PER_SECOND) * NS_PER_SECOND;
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return new StatCache(file, Buffer.alloc(0), new Map(), 1, 'new', racyFrom);
      throw err;
    }
    const index = indexRecords(data);
    if (index === undefined) return new StatCache(file, Buffer.alloc(0), new Map(), 1, 'discarded', racyFrom);
    return new StatCache(file, data, index.offsets, index.generation + 1, 'loaded', racyFrom);
  }

  /** Number of digests held. */
  get size(): number {
    let count = this.fresh.size;
    for (const path of this.loadedAt.keys()) if (!this.fresh.has(path)) count++;
    return count;
  }

  /** The content digest recorded for `path` if its identity is unchanged. */
  lookup(path: string, identity: FileIdentity): Digest | undefined {
    const fresh = this.fresh.get(path);
    if (fresh !== undefined) return sameIdentity(fresh.identity, identity) ? fresh.digest : undefined;
    const at = this.loadedAt.get(path);
    if (at === undefined) return undefined;
    writeIdentity(this.scratch, 0, identity);
    if (this.loaded.compare(this.scratch, 0, IDENTITY_BYTES, at, at + IDENTITY_BYTES) !== 0) return undefined;
    if (this.loaded.readUInt32LE(at + MODE_AT) !== Number(identity.mode)) return undefined;
    // Kept fresh for the next save; a lookup alone does not make a no-op build rewrite the file.
    this.loaded.writeUInt32LE(this.generation, at + LAST_USED_AT);
    return `sha256:${this.loaded.toString('hex', at + DIGEST_AT, at + DIGEST_AT + 32)}`;
  }

  /**
   * Records the digest of `path`'s content, read when the file had identity `identity`. A racy
   * digest is not kept: the stat cannot vouch for it.
   */
  record(path: string, identity: FileIdentity, digest: Digest): void {
    const changedAt = identity.mtimeNs > identity.ctimeNs ? identity.mtimeNs : identity.ctimeNs;
    if (changedAt >= this.racyFrom) {
      // Whatever was known about the path is stale now.
      this.fresh.delete(path);
      this.loadedAt.delete(path);
      return;
    }
    this.fresh.set(path, { identity, digest });
    this.dirty = true;
  }

  /** Writes the cache atomically if digests were recorded, leaving out ones unused for many saves. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    const paths = [...this.fresh.keys()];
    for (const [path, at] of this.loadedAt) {
      if (this.fresh.has(path)) continue;
      if (this.generation - this.loaded.readUInt32LE(at + LAST_USED_AT) <= MAX_UNUSED_GENERATIONS) paths.push(path);
    }
    paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    await writeFileAtomic(this.file, this.encode(paths), { durable: false });
    this.dirty = false;
  }

  private encode(paths: string[]): Buffer {
    const suffixes: Buffer[] = [];
    const shared: number[] = [];
    const kept: string[] = [];
    let total = HEADER_BYTES + CHECKSUM_BYTES;
    let previous = '';
    for (const path of paths) {
      const common = sharedPrefixLength(previous, path);
      const suffix = Buffer.from(path.slice(common), 'utf8');
      // Linux paths are at most 4096 bytes; a longer one simply is not cached.
      if (suffix.length > 0xffff || common > 0xffff) continue;
      shared.push(common);
      suffixes.push(suffix);
      kept.push(path);
      total += 4 + suffix.length + RECORD_BODY_BYTES;
      previous = path;
    }
    const out = Buffer.allocUnsafe(total);
    MAGIC.copy(out, 0);
    let at = MAGIC.length;
    at = out.writeUInt32LE(VERSION, at);
    at = out.writeUInt32LE(this.generation, at);
    at = out.writeUInt32LE(kept.length, at);
    kept.forEach((path, i) => {
      const suffix = suffixes[i] as Buffer;
      at = out.writeUInt16LE(shared[i] as number, at);
      at = out.writeUInt16LE(suffix.length, at);
      at += suffix.copy(out, at);
      const fresh = this.fresh.get(path);
      if (fresh === undefined) {
        const from = this.loadedAt.get(path) as number;
        at += this.loaded.copy(out, at, from, from + RECORD_BODY_BYTES);
        return;
      }
      writeIdentity(out, at, fresh.identity);
      out.writeUInt32LE(Number(fresh.identity.mode), at + MODE_AT);
      out.writeUInt32LE(this.generation, at + LAST_USED_AT);
      out.write(digestHex(fresh.digest), at + DIGEST_AT, 'hex');
      at += RECORD_BODY_BYTES;
    });
    createHash('sha256').update(out.subarray(0, at)).digest().copy(out, at);
    return out;
  }
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.dev === b.dev && a.mode === b.mode;
}

function writeIdentity(out: Buffer, at: number, identity: FileIdentity): void {
  out.writeBigUInt64LE(identity.size, at);
  out.writeBigUInt64LE(identity.mtimeNs, at + 8);
  out.writeBigUInt64LE(identity.ctimeNs, at + 16);
  out.writeBigUInt64LE(identity.ino, at + 24);
  out.writeBigUInt64LE(identity.dev, at + 32);
}

/** Finds each record's body in a cache file; undefined when it is not a complete, intact cache of this version. */
function indexRecords(data: Buffer): { offsets: Map<string, number>; generation: number } | undefined {
  if (data.length < HEADER_BYTES + CHECKSUM_BYTES || !data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const bodyEnd = data.length - CHECKSUM_BYTES;
  const checksum = createHash('sha256').update(data.subarray(0, bodyEnd)).digest();
  if (!checksum.equals(data.subarray(bodyEnd))) return undefined;
  let at = MAGIC.length;
  if (data.readUInt32LE(at) !== VERSION) return undefined;
  const generation = data.readUInt32LE(at + 4);
  const count = data.readUInt32LE(at + 8);
  at = HEADER_BYTES;
  const offsets = new Map<string, number>();
  let previous = '';
  for (let i = 0; i < count; i++) {
    if (at + 4 > bodyEnd) return undefined;
    const common = data.readUInt16LE(at);
    const suffixLength = data.readUInt16LE(at + 2);
    at += 4;
    if (common > previous.length || at + suffixLength + RECORD_BODY_BYTES > bodyEnd) return undefined;
    const path = previous.slice(0, common) + data.toString('utf8', at, at + suffixLength);
    at += suffixLength;
    offsets.set(path, at);
    at += RECORD_BODY_BYTES;
    previous = path;
  }
  return at === bodyEnd ? { offsets, generation } : undefined;
}

/** Characters `a` and `b` share at the start, never splitting a surrogate pair. */
function sharedPrefixLength(a: string, b: string): number {
  const limit = Math.min(a.length, b.length);
  let n = 0;
  while (n < limit && a.charCodeAt(n) === b.charCodeAt(n)) n++;
  if (n > 0 && n < b.length) {
    const last = b.charCodeAt(n - 1);
    if (last >= 0xd800 && last <= 0xdbff) n--;
  }
  return n;
}
