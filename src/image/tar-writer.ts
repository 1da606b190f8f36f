/**
 * Deterministic layer tar writer: the same entries always give the same bytes.
 * Headers come from tar-header.ts (Go archive/tar's encoding); content is read from disk or a buffer and
 * small entries are coalesced into large chunks so that a tree of many small files streams cheaply.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { GantryError, errnoCode } from '../util/index.js';
import { type LayerEntry, normalizeLayerPath } from './layer-entry.js';
import { BLOCK_SIZE, TypeFlag, encodeTarHeader, paddingFor } from './tar-header.js';

export interface LayerTarOptions {
  /** Modification times later than this (seconds since the epoch) are written as this value. */
  sourceDateEpoch?: number;
}

const STAGING_SIZE = 1 << 20;
const READ_CHUNK = 1 << 20;
/** Files up to this size (with their padding) are read synchronously into the staging buffer. */
const SMALL_FILE = 256 * 1024;

const TYPE_FLAGS: Record<LayerEntry['type'], number> = {
  file: TypeFlag.file,
  dir: TypeFlag.dir,
  symlink: TypeFlag.symlink,
  hardlink: TypeFlag.hardlink,
  char: TypeFlag.char,
  block: TypeFlag.block,
  fifo: TypeFlag.fifo,
};

const XATTR_RECORD_PREFIX = 'SCHILY.xattr.';

/** The header bytes of one entry, after validating it. Exposed for callers that frame entries themselves. */
export function layerEntryHeader(entry: LayerEntry, options: LayerTarOptions = {}): Buffer {
  const path = normalizeLayerPath(entry.path);
  if (path === '' || path !== entry.path) {
    throw new GantryError(`layer entry path "${entry.path}" is not a clean relative path`, {
      hint: 'entry paths are relative to the layer root, "/"-separated, without "." or ".." components',
    });
  }
  const isFile = entry.type === 'file';
  let mtime = Math.floor(entry.mtime);
  if (options.sourceDateEpoch !== undefined && mtime > options.sourceDateEpoch) mtime = Math.floor(options.sourceDateEpoch);
  let linkname = '';
  if (entry.type === 'symlink' || entry.type === 'hardlink') {
    if (entry.linkTarget === undefined || entry.linkTarget === '') {
      throw new GantryError(`layer entry "${entry.path}" is a ${entry.type} without a target`);
    }
    linkname = entry.type === 'hardlink' ? normalizeLayerPath(entry.linkTarget, 'hardlink target') : entry.linkTarget;
  }
  const isDevice = entry.type === 'char' || entry.type === 'block';
  let extraRecords: Map<string, Uint8Array> | undefined;
  if (entry.xattrs && entry.xattrs.size > 0) {
    extraRecords = new Map();
    for (const [name, value] of entry.xattrs) extraRecords.set(XATTR_RECORD_PREFIX + name, value);
  }
  return encodeTarHeader({
    name: entry.type === 'dir' ? `${path}/` : path,
    typeflag: TYPE_FLAGS[entry.type],
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    size: isFile ? entry.size : 0,
    mtime,
    linkname,
    devMajor: isDevice ? (entry.devMajor ?? 0) : 0,
    devMinor: isDevice ? (entry.devMinor ?? 0) : 0,
    extraRecords,
  });
}

/** Collects small writes into one large buffer; hands out full chunks. */
class Staging {
  private buffer = Buffer.allocUnsafe(STAGING_SIZE);
  private used = 0;

  get free(): number {
    return STAGING_SIZE - this.used;
  }

  /** Makes room for `count` bytes, returning the chunk that had to be flushed for it, if any. */
  ensure(count: number): Buffer | undefined {
    return count > this.free ? this.take() : undefined;
  }

  put(data: Uint8Array): void {
    this.buffer.set(data, this.used);
    this.used += data.length;
  }

  zeros(count: number): void {
    this.buffer.fill(0, this.used, this.used + count);
    this.used += count;
  }

  /** Reserves `count` bytes for a direct read; the caller fills them. */
  reserve(count: number): { buffer: Buffer; offset: number } {
    const offset = this.used;
    this.used += count;
    return { buffer: this.buffer, offset };
  }

  take(): Buffer | undefined {
    if (this.used === 0) return undefined;
    const chunk = this.buffer.subarray(0, this.used);
    this.buffer = Buffer.allocUnsafe(STAGING_SIZE);
    this.used = 0;
    return chunk;
  }
}

function changedWhileReading(entry: LayerEntry, path: string): GantryError {
  return new GantryError(`file "${path}" changed size while the layer was written (entry "${entry.path}", expected ${entry.size} bytes)`, {
    hint: 'nothing may write to a snapshot while its layer is being created',
  });
}

async function* fileContent(entry: LayerEntry, staging: Staging): AsyncGenerator<Buffer> {
  const source = entry.source;
  if (source === undefined) throw new GantryError(`layer entry "${entry.path}" has ${entry.size} bytes but no content source`);
  if (source.kind === 'buffer') {
    if (source.data.length !== entry.size) {
      throw new GantryError(`layer entry "${entry.path}" declares ${entry.size} bytes but its buffer holds ${source.data.length}`);
    }
    if (source.data.length + paddingFor(entry.size) <= STAGING_SIZE) {
      const flushed = staging.ensure(source.data.length + paddingFor(entry.size));
      if (flushed) yield flushed;
      staging.put(source.data);
    } else {
      const flushed = staging.take();
      if (flushed) yield flushed;
      yield Buffer.from(source.data.buffer, source.data.byteOffset, source.data.byteLength);
    }
    staging.zeros(paddingFor(entry.size));
    return;
  }

  const padding = paddingFor(entry.size);
  if (entry.size + padding <= SMALL_FILE) {
    // Small files are read synchronously straight into the staging buffer: one open/fstat/read/close
    // without a trip through the thread pool each, several times faster for trees of small files.
    const flushed = staging.ensure(entry.size + padding);
    if (flushed) yield flushed;
    const { buffer, offset } = staging.reserve(entry.size);
    readSmallFile(entry, source.path, buffer, offset);
    staging.zeros(padding);
    return;
  }
  let handle;
  try {
    handle = await open(source.path, 'r');
  } catch (err) {
    throw unreadable(entry, source.path, err);
  }
  try {
    const stat = await handle.stat();
    if (stat.size !== entry.size) throw changedWhileReading(entry, source.path);
    const flushed = staging.take();
    if (flushed) yield flushed;
    let position = 0;
    while (position < entry.size) {
      const want = Math.min(READ_CHUNK, entry.size - position);
      const chunk = Buffer.allocUnsafe(want);
      let filled = 0;
      while (filled < want) {
        const { bytesRead } = await handle.read(chunk, filled, want - filled, position + filled);
        if (bytesRead === 0) throw changedWhileReading(entry, source.path);
        filled += bytesRead;
      }
      position += want;
      yield chunk;
    }
    staging.zeros(padding);
  } finally {
    await handle.close();
  }
}

function readSmallFile(entry: LayerEntry, path: string, buffer: Buffer, offset: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw unreadable(entry, path, err);
  }
  try {
    if (fstatSync(fd).size !== entry.size) throw changedWhileReading(entry, path);
    let done = 0;
    while (done < entry.size) {
      const bytesRead = readSync(fd, buffer, offset + done, entry.size - done, done);
      if (bytesRead === 0) throw changedWhileReading(entry, path);
      done += bytesRead;
    }
  } finally {
    closeSync(fd);
  }
}

function unreadable(entry: LayerEntry, path: string, err: unknown): GantryError {
  return new GantryError(`cannot read "${path}" for layer entry "${entry.path}": ${errnoCode(err) ?? String(err)}`, { cause: err });
}

/** The tar bytes for `entries`, in the order given, ending with the two zero blocks. */
export async function* layerTarChunks(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  options: LayerTarOptions = {},
): AsyncGenerator<Buffer> {
  const staging = new Staging();
  for await (const entry of entries) {
    const header = layerEntryHeader(entry, options);
    if (header.length > STAGING_SIZE) {
      const flushed = staging.take();
      if (flushed) yield flushed;
      yield header;
    } else {
      const flushed = staging.ensure(header.length);
      if (flushed) yield flushed;
      staging.put(header);
    }
    if (entry.type === 'file' && entry.size > 0) yield* fileContent(entry, staging);
  }
  const flushed = staging.ensure(2 * BLOCK_SIZE);
  if (flushed) yield flushed;
  staging.zeros(2 * BLOCK_SIZE);
  const last = staging.take();
  if (last) yield last;
}

/** A readable tar stream of `entries` (see layerTarChunks). */
export function createLayerTar(
  entries: Iterable<LayerEntry> | AsyncIterable<LayerEntry>,
  options: LayerTarOptions = {},
): Readable {
  return Readable.from(layerTarChunks(entries, options), { objectMode: false });
}
