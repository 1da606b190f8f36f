/**
 * The content-addressed blob storage image code writes into (a docker archive's layers converted on
 * their way in, a load's staging area), declared here so that image code does not depend on the store
 * that provides it: store/content.ts implements it. Blobs appear only whole and verified.
 */
import type { ReadStream } from 'node:fs';
import type { Digest } from '../util/index.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface ExpectedBlob {
  digest: Digest;
  size?: number;
}

/** A blob being written; `commit` verifies and publishes it, `abort` throws it away. */
export interface BlobWriter {
  /** Bytes written so far (a resumed download continues from here). */
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  commit(expected?: ExpectedBlob): Promise<BlobInfo>;
  abort(): Promise<void>;
}

export interface BlobStore {
  has(digest: Digest): Promise<boolean>;
  /** A blob read whole; one larger than `limit` bytes is refused before it is read. */
  readBytes(digest: Digest, limit?: number): Promise<Buffer>;
  openRead(digest: Digest, start?: number): Promise<ReadStream>;
  /** Stores `data`; when `expected` is given the bytes must match it. */
  writeBytes(data: Uint8Array | string, expected?: ExpectedBlob): Promise<BlobInfo>;
  writeJson(value: unknown, expected?: ExpectedBlob): Promise<BlobInfo>;
  /** Stores a stream; the digest is computed while writing. */
  ingest(source: AsyncIterable<Uint8Array>, expected?: ExpectedBlob): Promise<BlobInfo>;
  writer(options?: { callerHashes?: boolean }): Promise<BlobWriter>;
  delete(digest: Digest): Promise<void>;
}
