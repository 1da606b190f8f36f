/**
 * Read access to the files of an image archive, whatever holds them: a directory, a tar file, or a
 * compressed tar file (`docker save | gzip`). A tar is indexed once — every header is read and the whole
 * file must be a complete archive — and its files are then read in place by offset, in any order.
 * Links inside the archive (docker save makes repeated layers symlinks) are followed, but never out of it.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GantryError, errnoCode, isGantryError, resolveInRoot } from '../util/index.js';
import { COMPRESSION_MAGIC_LENGTH, decompressLayer, detectCompression } from './decompress.js';
import { MAX_JSON_DEPTH, nestsTooDeep } from './documents.js';
import { TarReader } from './tar-reader.js';
import { TypeFlag, paddingFor } from './tar-header.js';

export type ArchiveContainer = 'directory' | 'tar';

export interface ArchiveFiles {
  /** The archive as the user named it, for messages. */
  readonly path: string;
  readonly container: ArchiveContainer;
  /** Size of the regular file at `path` (links followed), or undefined when there is none. */
  fileSize(path: string): Promise<number | undefined>;
  /** The bytes of the regular file at `path`; fails with a GantryError naming it when it is missing. */
  open(path: string): Promise<AsyncIterable<Uint8Array>>;
  /** Names at the top of the archive, for recognizing its format and for messages. */
  topLevelNames(): Promise<string[]>;
  /** Releases temporary files (a decompressed copy of a compressed tar). */
  close(): Promise<void>;
}

export interface OpenArchiveOptions {
  /** Where a compressed tar is decompressed to before it is read; the copy is removed by `close`. */
  tmpDir: string;
}

/** Opens a directory or a (possibly compressed) tar file as an archive. */
export async function openArchiveFiles(path: string, options: OpenArchiveOptions): Promise<ArchiveFiles> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new GantryError(`${path}: no such file or directory`);
    throw new GantryError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (info.isDirectory()) return new DirectoryArchiveFiles(path, resolvePath(path));
  if (!info.isFile()) throw new GantryError(`${path} is neither a file nor a directory`);
  const compression = detectCompression(await readFileHead(path, COMPRESSION_MAGIC_LENGTH));
  if (compression === 'none') return TarArchiveFiles.index(path, path, undefined);
  await mkdir(options.tmpDir, { recursive: true });
  const copy = join(options.tmpDir, `archive-${process.pid}-${randomBytes(6).toString('hex')}.tar`);
  try {
    await pipeline(decompressLayer(createReadStream(path), path), createWriteStream(copy, { flags: 'wx' }));
    return await TarArchiveFiles.index(path, copy, copy);
  } catch (err) {
    await rm(copy, { force: true });
    const prefix = `layer ${path}: `;
    if (!isGantryError(err) || !err.message.startsWith(prefix)) throw err;
    throw new GantryError(`${path}: ${err.message.slice(prefix.length)}`, {
      hint: 'the file is truncated or corrupt; save or download it again',
      cause: err,
    });
  }
}

async function readFileHead(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The first `length` bytes of a file in the archive (fewer if it is shorter). */
export async function readArchiveHead(files: ArchiveFiles, path: string, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  for await (const chunk of await files.open(path)) {
    parts.push(Buffer.from(chunk));
    have += chunk.length;
    if (have >= length) break;
  }
  return Buffer.concat(parts).subarray(0, length);
}

/** Reads a small file (JSON documents) whole; larger than `limit` is an error rather than a memory blow-up. */
export async function readArchiveFile(files: ArchiveFiles, path: string, limit = 32 << 20): Promise<Buffer> {
  const size = await files.fileSize(path);
  if (size === undefined) throw missingFile(files, path);
  if (size > limit) throw new GantryError(`${files.path}: ${path} is ${size} bytes, more than the ${limit} a metadata file may have`);
  const parts: Buffer[] = [];
  for await (const chunk of await files.open(path)) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** Parses a JSON file of the archive; a syntax error names the file. */
export async function readArchiveJson(files: ArchiveFiles, path: string): Promise<unknown> {
  const text = (await readArchiveFile(files, path)).toString('utf8');
  if (nestsTooDeep(text)) {
    throw new GantryError(`${files.path}: ${path} nests more than ${MAX_JSON_DEPTH} levels deep`, { hint: 'the archive is corrupt or was not written by an image tool' });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The parser's message quotes the text, which may be anything: it is left out.
    throw new GantryError(`${files.path}: ${path} is not valid JSON`, {
      hint: 'the archive is corrupt or was not written by an image tool',
    });
  }
}

function missingFile(files: ArchiveFiles, path: string): GantryError {
  return new GantryError(`${files.path}: there is no file ${path} in the archive`, {
    hint: 'the archive is incomplete or corrupt',
  });
}

/** Components of an archive path; `.` and empty parts dropped, `..` kept for the resolver to apply. */
function splitArchivePath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

class DirectoryArchiveFiles implements ArchiveFiles {
  readonly container = 'directory';

  constructor(
    readonly path: string,
    private readonly root: string,
  ) {}

  private async regularFile(path: string): Promise<{ hostPath: string; size: number } | undefined> {
    const hostPath = await resolveInRoot(this.root, splitArchivePath(path).join('/'));
    try {
      const info = await stat(hostPath);
      return info.isFile() ? { hostPath, size: info.size } : undefined;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  async fileSize(path: string): Promise<number | undefined> {
    return (await this.regularFile(path))?.size;
  }

  async open(path: string): Promise<AsyncIterable<Uint8Array>> {
    const file = await this.regularFile(path);
    if (!file) throw missingFile(this, path);
    return createReadStream(file.hostPath, { highWaterMark: 1 << 20 });
  }

  async topLevelNames(): Promise<string[]> {
    return (await readdir(this.root)).sort();
  }

  async close(): Promise<void> {}
}

type TarIndexEntry =
  | { kind: 'file'; offset: number; size: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'hardlink'; target: string }
  | { kind: 'other' };

/** Entry types without content, whatever their size field says (as the tar reader treats them). */
const HEADER_ONLY_TYPES = new Set<number>([TypeFlag.hardlink, TypeFlag.symlink, TypeFlag.char, TypeFlag.block, TypeFlag.dir, TypeFlag.fifo]);

/** How many links one lookup may follow, as Linux allows. */
const MAX_LINKS = 40;

/**
 * The longest path or link target a lookup follows, as Linux's PATH_MAX: a longer one names nothing
 * (ENAMETOOLONG), and bounds the work of a lookup (a hostile link can be megabytes long).
 */
const MAX_PATH = 4096;

class TarArchiveFiles implements ArchiveFiles {
  readonly container = 'tar';

  private constructor(
    readonly path: string,
    private readonly tarPath: string,
    private readonly entries: Map<string, TarIndexEntry>,
    private readonly temporary: string | undefined,
  ) {}

  /** Reads every header of `tarPath`; `temporary` is a copy to remove on close. */
  static async index(path: string, tarPath: string, temporary: string | undefined): Promise<TarArchiveFiles> {
    const entries = new Map<string, TarIndexEntry>();
    const reader = new TarReader(createReadStream(tarPath, { highWaterMark: 1 << 20 }), path);
    let entryEnd = 0;
    try {
      for (let header = await reader.next(); header; header = await reader.next()) {
        const name = splitArchivePath(header.name).join('/');
        const bodyStart = reader.bytesRead;
        if (header.typeflag === TypeFlag.file) entries.set(name, { kind: 'file', offset: bodyStart, size: header.size });
        else if (header.typeflag === TypeFlag.symlink) entries.set(name, { kind: 'symlink', target: header.linkname });
        else if (header.typeflag === TypeFlag.hardlink) entries.set(name, { kind: 'hardlink', target: header.linkname });
        else entries.set(name, { kind: 'other' });
        entryEnd = HEADER_ONLY_TYPES.has(header.typeflag) ? bodyStart : bodyStart + header.size + paddingFor(header.size);
      }
      // Reading past the last entry consumed nothing: the end-of-archive blocks are missing.
      if (reader.bytesRead === entryEnd) {
        throw new GantryError(
          entries.size === 0 ? `${path} is empty, not a tar archive` : `${path} is truncated: it ends after ${entryEnd} bytes without the end-of-archive marker`,
          { hint: 'the file was cut short while being written or copied; save or download it again' },
        );
      }
      await reader.close();
    } catch (err) {
      await reader.close();
      if (temporary) await rm(temporary, { force: true });
      if (isGantryError(err) && err.message.startsWith(`layer ${path}: `)) {
        const detail = err.message.slice(`layer ${path}: `.length);
        const truncated = entries.size > 0 && detail.includes('unexpected end of stream');
        throw new GantryError(`${path} is ${truncated ? 'truncated' : 'not a valid tar archive'}: ${detail}`, {
          hint: truncated
            ? 'the file was cut short while being written or copied; save or download it again'
            : 'image archives are tar files (optionally gzip, zstd, xz or bzip2 compressed) or directories',
          cause: err,
        });
      }
      throw err;
    }
    return new TarArchiveFiles(path, tarPath, entries, temporary);
  }

  /** The file entry `path` leads to, following links within the archive. */
  private lookup(path: string): { offset: number; size: number } | undefined {
    let pending = splitArchivePath(path);
    let resolved: string[] = [];
    let links = 0;
    for (;;) {
      while (pending.length > 0) {
        const part = pending.shift() as string;
        if (part === '..') {
          resolved.pop();
          continue;
        }
        const candidate = [...resolved, part].join('/');
        if (candidate.length >= MAX_PATH) return undefined;
        const entry = this.entries.get(candidate);
        if (entry?.kind === 'symlink') {
          if (++links > MAX_LINKS || entry.target.length >= MAX_PATH) return undefined;
          if (entry.target.startsWith('/')) resolved = [];
          pending = [...splitArchivePath(entry.target), ...pending];
          continue;
        }
        resolved.push(part);
      }
      const entry = this.entries.get(resolved.join('/'));
      if (entry?.kind === 'file') return { offset: entry.offset, size: entry.size };
      if (entry?.kind !== 'hardlink' || ++links > MAX_LINKS || entry.target.length >= MAX_PATH) return undefined;
      // A hard link names its target from the archive root.
      pending = splitArchivePath(entry.target);
      resolved = [];
    }
  }

  async fileSize(path: string): Promise<number | undefined> {
    return this.lookup(path)?.size;
  }

  async open(path: string): Promise<AsyncIterable<Uint8Array>> {
    const entry = this.lookup(path);
    if (!entry) throw missingFile(this, path);
    if (entry.size === 0) return (async function* () {})();
    return createReadStream(this.tarPath, { start: entry.offset, end: entry.offset + entry.size - 1, highWaterMark: 1 << 20 });
  }

  async topLevelNames(): Promise<string[]> {
    return [...new Set([...this.entries.keys()].map((name) => name.split('/')[0]!).filter((name) => name !== ''))].sort();
  }

  async close(): Promise<void> {
    if (this.temporary) await rm(this.temporary, { force: true });
  }
}
