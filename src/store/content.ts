/**
 * Content-addressed blob storage in an OCI image layout (`blobs/sha256/<hex>`). Blobs are only ever
 * created by ingest: bytes go to a temp file under `ingest/`, are hashed while written, verified
 * against the expected digest and size, fsynced, then renamed into place. A reader therefore sees a
 * whole, verified blob or none; a killed writer leaves only a temp file that `prune` removes.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { GantryError, errnoCode, checkDigest, digestHex, hashToDigest, isDigest, sha256, type Digest } from '../util/index.js';
import type { BlobInfo, BlobStore, BlobWriter, ExpectedBlob } from '../image/index.js';

export type { BlobInfo, BlobWriter, ExpectedBlob } from '../image/index.js';

export class ContentStore implements BlobStore {
  readonly blobsDir: string;
  readonly ingestDir: string;

  constructor(readonly root: string) {
    this.blobsDir = join(root, 'blobs', 'sha256');
    this.ingestDir = join(root, 'ingest');
  }

  /** Digests become file names here: one that is not `sha256:<64 hex>` never reaches the file system. */
  blobPath(digest: Digest): string {
    return join(this.blobsDir, digestHex(checkDigest(digest, 'blob')));
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const st = await stat(this.blobPath(digest));
      return { digest, size: st.size };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** A blob read whole; one larger than `limit` bytes is refused before it is read. */
  async readBytes(digest: Digest, limit?: number): Promise<Buffer> {
    const path = this.blobPath(digest);
    try {
      if (limit !== undefined) {
        const { size } = await stat(path);
        if (size > limit) throw new GantryError(`blob ${digest} is ${size} bytes, more than the ${limit} expected of it`);
      }
      return await readFile(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw missingBlob(digest);
      throw err;
    }
  }

  async openRead(digest: Digest, start = 0): Promise<ReadStream> {
    const path = this.blobPath(digest);
    if (!(await this.has(digest))) throw missingBlob(digest);
    return createReadStream(path, { start });
  }

  /** Stores `data`; when `expected` is given the bytes must match it. */
  async writeBytes(data: Uint8Array | string, expected?: ExpectedBlob): Promise<BlobInfo> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const digest = sha256(bytes);
    if (expected) verify(expected, digest, bytes.length);
    if (await this.has(digest)) return { digest, size: bytes.length };
    const writer = await this.writer();
    await writer.write(bytes);
    return writer.commit({ digest, size: bytes.length });
  }

  async writeJson(value: unknown, expected?: ExpectedBlob): Promise<BlobInfo> {
    return this.writeBytes(JSON.stringify(value), expected);
  }

  /** Stores a stream; the digest is computed while writing. */
  async ingest(source: AsyncIterable<Uint8Array>, expected?: ExpectedBlob): Promise<BlobInfo> {
    const writer = await this.writer();
    try {
      for await (const chunk of source) await writer.write(chunk);
    } catch (err) {
      await writer.abort();
      throw err;
    }
    return writer.commit(expected);
  }

  /**
   * A writer for a new blob. `callerHashes`: the caller computes the digest of exactly the bytes it
   * writes (as the layer compressor does while compressing) and passes it to commit, so the bytes are
   * not hashed a second time.
   */
  async writer(options: { callerHashes?: boolean } = {}): Promise<BlobWriter> {
    await mkdir(this.ingestDir, { recursive: true });
    const tempPath = join(this.ingestDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const handle = await open(tempPath, 'wx', 0o644);
    return new TempBlobWriter(this, handle, tempPath, options.callerHashes ? undefined : createHash('sha256'));
  }

  async delete(digest: Digest): Promise<void> {
    await rm(this.blobPath(digest), { force: true });
  }

  async list(): Promise<Digest[]> {
    let names: string[];
    try {
      names = await readdir(this.blobsDir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
    return names.map((name) => `sha256:${name}`).filter(isDigest);
  }

  /** Publishes a verified temp file; used by TempBlobWriter. */
  async publish(tempPath: string, digest: Digest): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await rename(tempPath, this.blobPath(digest));
  }
}

class TempBlobWriter implements BlobWriter {
  private written = 0;
  private done = false;

  constructor(
    private readonly store: ContentStore,
    private readonly handle: FileHandle,
    private readonly tempPath: string,
    /** Absent when the caller hashes what it writes. */
    private readonly hash: Hash | undefined,
  ) {}

  get offset(): number {
    return this.written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error('write after commit/abort');
    this.hash?.update(chunk);
    let position = 0;
    while (position < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, position, chunk.length - position);
      position += bytesWritten;
    }
    this.written += chunk.length;
  }

  async commit(expected?: ExpectedBlob): Promise<BlobInfo> {
    if (this.done) throw new Error('commit after commit/abort');
    this.done = true;
    try {
      if (!this.hash && !expected) throw new Error('a blob hashed by its writer needs its digest at commit');
      const digest = this.hash ? hashToDigest(this.hash) : (expected as ExpectedBlob).digest;
      if (expected) verify(expected, digest, this.written);
      await this.handle.sync();
      await this.handle.close();
      await this.store.publish(this.tempPath, digest);
      return { digest, size: this.written };
    } catch (err) {
      await this.handle.close().catch(() => undefined);
      await rm(this.tempPath, { force: true });
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }
}

function verify(expected: ExpectedBlob, actual: Digest, size: number): void {
  if (expected.size !== undefined && expected.size !== size) {
    throw new GantryError(`blob ${expected.digest}: expected ${expected.size} bytes, got ${size}`, {
      hint: 'the data was truncated or altered in transit; nothing was stored',
    });
  }
  if (expected.digest !== actual) {
    throw new GantryError(`blob digest mismatch: expected ${expected.digest}, got ${actual}`, {
      hint: 'the data was altered in transit or at its source; nothing was stored',
    });
  }
}

function missingBlob(digest: Digest): GantryError {
  return new GantryError(`blob ${digest} is not in the store`, {
    hint: 'the store may have been pruned while this image was referenced elsewhere; pull or rebuild the image',
  });
}
