/**
 * Writing the files of an image archive into a directory or a tar file. Every file is checked against
 * the size (and digest) it must have while it is written. In a directory each file is a temp file renamed
 * into place once verified; a new directory is written as a temp directory beside the destination and a
 * tar as a temp file there, each renamed to the destination only by `commit`, so an interrupted or failed
 * write never leaves a partial archive under the destination name. A device or pipe given as the
 * destination (/dev/null, a FIFO) is written into directly.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GantryError, errnoCode, hashToDigest, type Digest, pathExists, tempSibling, writeFileAtomic } from '../util/index.js';
import { BLOCK_SIZE, paddingFor } from './tar-header.js';
import { layerEntryHeader } from './tar-writer.js';

export interface ExpectedContent {
  size: number;
  digest?: Digest;
}

export interface ArchiveWriter {
  /** Where the archive is going, for messages. */
  readonly destination: string;
  /** Whether `path` is already in the archive (written now, or present in a directory written to before). */
  has(path: string): Promise<boolean>;
  /** Adds a file; `open` is called when the writer is ready for its bytes, which must match `expected`. */
  addFile(path: string, expected: ExpectedContent, open: () => Promise<AsyncIterable<Uint8Array>>): Promise<void>;
  /** Adds or replaces a small file (metadata). */
  addBytes(path: string, bytes: Uint8Array): Promise<void>;
  /** Makes the archive appear complete at its destination. */
  commit(): Promise<void>;
  /** Discards what was written (a tar's temp file; a directory this writer created). */
  abort(): Promise<void>;
}

function contentError(destination: string, path: string, message: string): GantryError {
  return new GantryError(`writing ${path} of ${destination}: ${message}`, {
    hint: 'the image content changed or is corrupt at its source; nothing was written to the destination',
  });
}

/** Passes `chunks` through while checking their count against `expected.size` and their digest at the end. */
async function* verified(chunks: AsyncIterable<Uint8Array>, expected: ExpectedContent, fail: (message: string) => GantryError): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > expected.size) throw fail(`more than the expected ${expected.size} bytes`);
    hash.update(chunk);
    yield chunk;
  }
  if (size !== expected.size) throw fail(`expected ${expected.size} bytes, got ${size}`);
  if (expected.digest) {
    const actual = hashToDigest(hash);
    if (actual !== expected.digest) throw fail(`digest mismatch: expected ${expected.digest}, got ${actual}`);
  }
}

async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** A directory archive (an OCI layout directory). */
export class DirectoryArchiveWriter implements ArchiveWriter {
  /** Files being written: a failed copy does not wait for its other blobs, but abort must. */
  private readonly writes = new Set<Promise<void>>();
  private closed = false;

  private constructor(
    readonly destination: string,
    /** Where files go: the destination itself when it existed, else a temp directory renamed to it by commit. */
    private readonly directory: string,
  ) {}

  /** Opens `directory` for writing; one that does not exist yet appears only once complete. */
  static async open(directory: string): Promise<DirectoryArchiveWriter> {
    const existed = await pathExists(directory);
    if (existed && !(await stat(directory)).isDirectory()) {
      throw new GantryError(`${directory} exists and is not a directory`, { hint: 'give a directory, or a file path without a trailing "/" for a tar' });
    }
    const target = existed ? directory : tempSibling(directory);
    await mkdir(target, { recursive: true });
    return new DirectoryArchiveWriter(directory, target);
  }

  async has(path: string): Promise<boolean> {
    try {
      return (await stat(join(this.directory, path))).isFile();
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  addFile(path: string, expected: ExpectedContent, openSource: () => Promise<AsyncIterable<Uint8Array>>): Promise<void> {
    if (this.closed) return Promise.reject(new GantryError(`writing ${this.destination} was stopped by an earlier error`));
    const write = this.writeFile(path, expected, openSource);
    this.writes.add(write);
    const forget = () => void this.writes.delete(write);
    write.then(forget, forget);
    return write;
  }

  private async writeFile(path: string, expected: ExpectedContent, openSource: () => Promise<AsyncIterable<Uint8Array>>): Promise<void> {
    const target = join(this.directory, path);
    await mkdir(dirname(target), { recursive: true });
    const temp = tempSibling(target);
    const handle = await open(temp, 'wx', 0o644);
    try {
      const source = await openSource();
      for await (const chunk of verified(source, expected, (message) => contentError(this.destination, path, message))) {
        await writeAll(handle, chunk);
      }
      await handle.sync();
      await handle.close();
      await rename(temp, target);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw err;
    }
  }

  async addBytes(path: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic(join(this.directory, path), bytes);
  }

  async commit(): Promise<void> {
    if (this.directory !== this.destination) await rename(this.directory, this.destination);
  }

  async abort(): Promise<void> {
    this.closed = true;
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
    // Verified blobs written into a directory that already existed are left: they are whole, and
    // index.json (written last) does not refer to them.
    if (this.directory !== this.destination) await rm(this.directory, { recursive: true, force: true });
  }
}

/** A tar archive, written sequentially to a temp file; files are added one at a time in call order. */
export class TarArchiveWriter implements ArchiveWriter {
  private readonly written = new Set<string>();
  private readonly directories = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private failed: unknown;
  private finished = false;

  private constructor(
    readonly destination: string,
    /** The temp file renamed to the destination by commit; undefined when writing straight into a device or pipe. */
    private readonly tempPath: string | undefined,
    private readonly handle: FileHandle,
  ) {}

  static async create(destination: string): Promise<TarArchiveWriter> {
    const existing = await stat(destination).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    });
    if (existing?.isDirectory()) throw new GantryError(`${destination} is a directory`, { hint: 'a tar archive needs a file path' });
    // A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written into, as `docker save -o` does:
    // renaming a temp file over it would replace it (as root, /dev/null itself).
    if (existing && !existing.isFile()) return new TarArchiveWriter(destination, undefined, await open(destination, 'w'));
    if (!existing) await mkdir(dirname(destination), { recursive: true });
    const tempPath = tempSibling(destination);
    const handle = await open(tempPath, 'wx', 0o644);
    return new TarArchiveWriter(destination, tempPath, handle);
  }

  async has(path: string): Promise<boolean> {
    return this.written.has(path);
  }

  /** Runs `task` after every earlier one; after a failure nothing more is written. */
  private serialized(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.failed !== undefined) throw this.failed;
      if (this.finished) throw new Error('tar archive written after commit or abort');
      try {
        await task();
      } catch (err) {
        this.failed = err;
        throw err;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeHeader(path: string, type: 'file' | 'dir', size: number): Promise<void> {
    // Fixed owner, mode and time: the same image always gives the same archive entries.
    const header = layerEntryHeader({ path, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size, mtime: 0 });
    await writeAll(this.handle, header);
  }

  /** Parent directory entries, each once and before anything inside it. */
  private async writeParents(path: string): Promise<void> {
    const parts = path.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.directories.has(dir)) continue;
      this.directories.add(dir);
      await this.writeHeader(dir, 'dir', 0);
    }
  }

  addFile(path: string, expected: ExpectedContent, openSource: () => Promise<AsyncIterable<Uint8Array>>): Promise<void> {
    return this.serialized(async () => {
      if (this.written.has(path)) return;
      await this.writeParents(path);
      await this.writeHeader(path, 'file', expected.size);
      const source = await openSource();
      for await (const chunk of verified(source, expected, (message) => contentError(this.destination, path, message))) {
        await writeAll(this.handle, chunk);
      }
      await writeAll(this.handle, Buffer.alloc(paddingFor(expected.size)));
      this.written.add(path);
    });
  }

  addBytes(path: string, bytes: Uint8Array): Promise<void> {
    if (this.written.has(path)) return Promise.reject(new Error(`${path} is already in the tar archive`));
    return this.addFile(path, { size: bytes.length }, async () =>
      (async function* () {
        yield bytes;
      })(),
    );
  }

  async commit(): Promise<void> {
    await this.serialized(async () => {
      await writeAll(this.handle, Buffer.alloc(2 * BLOCK_SIZE));
      if (this.tempPath) await this.handle.sync();
      this.finished = true;
      await this.handle.close();
      if (this.tempPath) await rename(this.tempPath, this.destination);
    });
  }

  async abort(): Promise<void> {
    await this.queue;
    this.finished = true;
    await this.handle.close().catch(() => undefined);
    if (this.tempPath) await rm(this.tempPath, { force: true });
  }
}
