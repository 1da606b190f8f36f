/**
 * File content hashing for selections. Small files are read synchronously in short slices between
 * which the event loop runs: for the many small files of a typical context this is several times
 * faster than going through the thread pool per file. Large files are read asynchronously, a few at
 * a time, so one big file never blocks the loop for long.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { hashToDigest, sha256File, type Digest } from '../util/index.js';

/** Files up to this size are read synchronously. */
const SYNC_READ_LIMIT = 256 * 1024;
/** Files read at once asynchronously (large files, or every file with a custom hasher). */
const ASYNC_READ_CONCURRENCY = 4;
/** Longest stretch of synchronous work before letting the event loop run. */
const SLICE_MS = 8;

/** Reads a file and returns the SHA-256 of its content. */
export type FileHasher = (absolutePath: string) => Promise<Digest>;

/** Synchronous content hash of one file, reading through `buffer` (util's sha256File is the async one). */
function hashFileContentSync(absolutePath: string, buffer: Buffer): Digest {
  const fd = openSync(absolutePath, 'r');
  try {
    const hash = createHash('sha256');
    for (;;) {
      const bytesRead = readSync(fd, buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
    return hashToDigest(hash);
  } finally {
    closeSync(fd);
  }
}

/** Lets the event loop run when synchronous work has held it for a while. */
export class Yielder {
  private last = performance.now();

  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < SLICE_MS) return;
    await nextTurn();
    this.last = performance.now();
  }
}

export interface HashJob {
  absolutePath: string;
  size: number;
}

/**
 * Hashes every job's file; `onDigest` receives each result as it comes. A custom hasher is called
 * for every file, a few files at a time. The first failure stops the work and is thrown.
 */
export async function hashFiles(
  jobs: readonly HashJob[],
  onDigest: (job: HashJob, digest: Digest) => void,
  yielder: Yielder,
  hasher?: FileHasher,
): Promise<void> {
  const asyncJobs = hasher === undefined ? jobs.filter((j) => j.size > SYNC_READ_LIMIT) : jobs;
  const hashAsync = hasher ?? sha256File;
  let failure: { error: unknown } | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < asyncJobs.length) {
      const job = asyncJobs[next++] as HashJob;
      try {
        onDigest(job, await hashAsync(job.absolutePath));
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const running = Array.from({ length: Math.min(ASYNC_READ_CONCURRENCY, asyncJobs.length) }, worker);
  if (hasher === undefined) {
    const buffer = Buffer.allocUnsafe(SYNC_READ_LIMIT);
    for (const job of jobs) {
      if (failure !== undefined) break;
      if (job.size > SYNC_READ_LIMIT) continue;
      try {
        onDigest(job, hashFileContentSync(job.absolutePath, buffer));
      } catch (error) {
        failure ??= { error };
      }
      await yielder.maybeYield();
    }
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure.error;
}
