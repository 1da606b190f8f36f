/**
 * One-pass layer compression: from tar bytes to the compressed blob, computing on the way the diffID
 * (sha256 of the tar), the uncompressed size, and the blob's digest and size.
 *
 * gzip runs on all cores: the input is cut into fixed-size blocks, worker threads turn each block into a
 * complete gzip member, and the members are written in input order. A multi-member gzip file is one valid
 * gzip stream for every reader (RFC 1952 §2.2). Block boundaries depend only on byte offsets and each
 * block's encoding only on its bytes, so the output is deterministic whatever the number of cores.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { hashToDigest, type Digest } from '../util/digest.js';
import { GantryError } from '../util/errors.js';
import { tempSibling } from '../util/fs.js';
import type { GzipJob, GzipJobResult } from './gzip-protocol.js';
import { MediaType } from './types.js';

export type LayerCompression = 'gzip' | 'none';

/** Tar bytes: a Readable, an async generator, or chunks already in memory. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface CompressLayerOptions {
  /** Default 'gzip'. */
  compression?: LayerCompression;
  /** gzip level 1–9 for compressible blocks; default 6, as `gzip` and Docker use. */
  level?: number;
  /** Bytes per gzip member; default 1 MiB. */
  blockSize?: number;
  /** Blocks being compressed or waiting to be written at once; default twice the worker count. */
  maxBlocksInFlight?: number;
}

export interface CompressedLayer {
  /** sha256 of the uncompressed tar: the image config's rootfs.diff_ids entry. */
  diffId: Digest;
  uncompressedSize: number;
  /** sha256 of the blob as written: the manifest's layer descriptor digest. */
  digest: Digest;
  size: number;
  mediaType: string;
  /** gzip members written, and how many of them were stored uncompressed as incompressible. */
  blockCount: number;
  storedBlockCount: number;
}

const DEFAULT_BLOCK_SIZE = 1 << 20;

interface PendingJob {
  resolve: (result: GzipJobResult) => void;
  reject: (err: unknown) => void;
}

/** A worker and the jobs it has not answered yet (a worker answers in the order it was asked). */
class PoolWorker {
  readonly pending = new Map<number, PendingJob>();
  private failed = false;

  constructor(readonly worker: Worker, private readonly onDead: (w: PoolWorker) => void) {
    worker.unref();
    worker.on('message', (result: GzipJobResult) => {
      const job = this.pending.get(result.id);
      if (!job) return;
      this.pending.delete(result.id);
      if (this.pending.size === 0) worker.unref();
      job.resolve(result);
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`gzip worker exited with code ${code}`)));
  }

  get dead(): boolean {
    return this.failed;
  }

  submit(job: GzipJob, handlers: PendingJob): void {
    // A worker with work keeps the process alive; an idle one must not.
    if (this.pending.size === 0) this.worker.ref();
    this.pending.set(job.id, handlers);
    this.worker.postMessage(job, [job.block]);
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    for (const job of this.pending.values()) job.reject(err);
    this.pending.clear();
    this.onDead(this);
  }
}

class GzipWorkerPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;

  constructor(readonly size: number) {}

  compress(block: ArrayBuffer, length: number, level: number): Promise<GzipJobResult> {
    const worker = this.pickWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => worker.submit({ id, block, length, level }, { resolve, reject }));
  }

  private pickWorker(): PoolWorker {
    if (this.workers.length < this.size) {
      const worker = new PoolWorker(new Worker(new URL('./gzip-worker.js', import.meta.url)), (dead) => {
        const index = this.workers.indexOf(dead);
        if (index >= 0) this.workers.splice(index, 1);
      });
      this.workers.push(worker);
      return worker;
    }
    let best = this.workers[0]!;
    for (const candidate of this.workers) if (candidate.pending.size < best.pending.size) best = candidate;
    return best;
  }
}

let sharedPool: GzipWorkerPool | undefined;

function gzipPool(): GzipWorkerPool {
  sharedPool ??= new GzipWorkerPool(Math.max(1, availableParallelism()));
  return sharedPool;
}

interface StreamTotals {
  hash: ReturnType<typeof createHash>;
  size: number;
}

/** Hashes and counts the input while cutting it into blocks, each in its own transferable ArrayBuffer. */
async function* inputBlocks(
  source: ByteSource,
  blockSize: number,
  totals: StreamTotals,
): AsyncGenerator<{ buffer: ArrayBuffer; length: number }> {
  let block = new Uint8Array(new ArrayBuffer(blockSize));
  let used = 0;
  for await (const chunk of source) {
    totals.hash.update(chunk);
    totals.size += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(blockSize - used, chunk.length - offset);
      block.set(chunk.subarray(offset, offset + take), used);
      used += take;
      offset += take;
      if (used === blockSize) {
        yield { buffer: block.buffer as ArrayBuffer, length: used };
        block = new Uint8Array(new ArrayBuffer(blockSize));
        used = 0;
      }
    }
  }
  if (used > 0) yield { buffer: block.buffer as ArrayBuffer, length: used };
}

function ignoreRejection(promise: Promise<unknown>): void {
  promise.catch(() => undefined);
}

async function* gzipMembers(
  source: ByteSource,
  options: Required<Pick<CompressLayerOptions, 'level' | 'blockSize' | 'maxBlocksInFlight'>>,
  inputTotals: StreamTotals,
  counts: { blocks: number; stored: number },
): AsyncGenerator<Buffer> {
  const pool = gzipPool();
  const inFlight: Array<Promise<GzipJobResult>> = [];
  const member = (result: GzipJobResult): Buffer => {
    counts.blocks++;
    if (result.stored) counts.stored++;
    return Buffer.from(result.output, 0, result.length);
  };
  for await (const block of inputBlocks(source, options.blockSize, inputTotals)) {
    const job = pool.compress(block.buffer, block.length, options.level);
    // Awaited in order below; this only keeps a failure of a later job from being reported as unhandled.
    ignoreRejection(job);
    inFlight.push(job);
    if (inFlight.length >= options.maxBlocksInFlight) yield member(await inFlight.shift()!);
  }
  while (inFlight.length > 0) yield member(await inFlight.shift()!);
  if (counts.blocks === 0) {
    counts.blocks = 1;
    yield gzipSync(Buffer.alloc(0), { level: options.level });
  }
}

async function* tally(source: ByteSource, totals: StreamTotals): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    totals.hash.update(chunk);
    totals.size += chunk.length;
    yield chunk;
  }
}

function validate(options: CompressLayerOptions): Required<Pick<CompressLayerOptions, 'level' | 'blockSize' | 'maxBlocksInFlight'>> {
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new GantryError(`invalid gzip level ${level}`, { hint: 'gzip levels run from 1 (fastest) to 9 (smallest)' });
  }
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 64 * 1024) {
    throw new GantryError(`invalid gzip block size ${blockSize}`, { hint: 'blocks are at least 64 KiB' });
  }
  const maxBlocksInFlight = options.maxBlocksInFlight ?? 2 * gzipPool().size;
  if (!Number.isInteger(maxBlocksInFlight) || maxBlocksInFlight < 1) {
    throw new GantryError(`invalid number of blocks in flight ${maxBlocksInFlight}`);
  }
  return { level, blockSize, maxBlocksInFlight };
}

/**
 * Compresses the tar bytes of `source` into `destination` and returns the layer's digests and sizes.
 * Memory stays bounded: at most `maxBlocksInFlight` blocks are read ahead of what `destination` accepted.
 */
export async function compressLayer(
  source: ByteSource,
  destination: Writable,
  options: CompressLayerOptions = {},
): Promise<CompressedLayer> {
  const compression = options.compression ?? 'gzip';
  const input: StreamTotals = { hash: createHash('sha256'), size: 0 };
  const output: StreamTotals = { hash: createHash('sha256'), size: 0 };
  const counts = { blocks: 0, stored: 0 };
  let body: ByteSource;
  let mediaType: string;
  if (compression === 'gzip') {
    body = gzipMembers(source, validate(options), input, counts);
    mediaType = MediaType.ociLayerGzip;
  } else if (compression === 'none') {
    body = source;
    mediaType = MediaType.ociLayer;
  } else {
    throw new GantryError(`layer compression "${String(compression)}" is not supported for writing`, {
      hint: 'gantry writes gzip or uncompressed layers',
    });
  }
  // Uncompressed, input and output are the same bytes: hash them once.
  await pipeline(Readable.from(tally(body, compression === 'none' ? input : output), { objectMode: false }), destination);
  const diffId = hashToDigest(input.hash);
  return {
    diffId,
    uncompressedSize: input.size,
    digest: compression === 'none' ? diffId : hashToDigest(output.hash),
    size: compression === 'none' ? input.size : output.size,
    mediaType,
    blockCount: counts.blocks,
    storedBlockCount: counts.stored,
  };
}

/** compressLayer into a file that appears at `path` only when complete (temp file + rename). */
export async function compressLayerToFile(
  source: ByteSource,
  path: string,
  options: CompressLayerOptions = {},
): Promise<CompressedLayer> {
  const tmp = tempSibling(path);
  try {
    const result = await compressLayer(source, createWriteStream(tmp, { flags: 'wx', flush: true }), options);
    await rename(tmp, path);
    return result;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
