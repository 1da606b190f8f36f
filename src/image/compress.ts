/**
 * One-pass layer compression: from tar bytes to the compressed blob, computing on the way the diffID
 * (sha256 of the tar), the uncompressed size, and the blob's digest and size.
 *
 * gzip runs on all cores: the input is cut into fixed-size blocks, zlib turns each block into a complete
 * gzip member on libuv's thread pool, several blocks at once, and the members are written in input order.
 * A multi-member gzip file is one valid gzip stream for every reader (RFC 1952 §2.2). Block boundaries
 * depend only on byte offsets and each block's encoding only on its bytes, so the output is deterministic
 * whatever the number of cores. (The thread pool, unlike worker threads, costs nothing to start: a small
 * layer is compressed in the time a worker thread would take to boot.)
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { deflateRaw, gzip, gzipSync } from 'node:zlib';
import { hashToDigest, type Digest, GantryError, tempSibling } from '../util/index.js';
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
  /** Blocks being compressed or waiting to be written at once; default twice the number of cores. */
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

const gzipAsync = promisify(gzip);
const deflateRawAsync = promisify(deflateRaw);

const SAMPLE_SIZE = 8 * 1024;
const SAMPLE_COUNT = 3;
/** A sample that deflates to more than this fraction of its size marks the block as incompressible. */
const INCOMPRESSIBLE_RATIO = 0.95;
/** Below this fraction (runs of zeros, sparse files) the fastest level compresses as well as any. */
const TRIVIAL_RATIO = 0.02;

/**
 * The deflate level for a block, from a few evenly spaced samples deflated at the fastest level:
 * 0 (stored) for incompressible data (already compressed, random), 1 for trivially compressible data,
 * else the requested level. Deterministic in the block's bytes, so the output never depends on timing.
 */
async function levelFor(block: Uint8Array, requested: number): Promise<number> {
  if (block.length < SAMPLE_SIZE * SAMPLE_COUNT) return requested;
  const stride = Math.floor((block.length - SAMPLE_SIZE) / (SAMPLE_COUNT - 1));
  const samples = Array.from({ length: SAMPLE_COUNT }, (_, i) => block.subarray(i * stride, i * stride + SAMPLE_SIZE));
  const deflated = await Promise.all(samples.map((sample) => deflateRawAsync(sample, { level: 1 })));
  const sampled = samples.reduce((sum, sample) => sum + sample.length, 0);
  const compressed = deflated.reduce((sum, output) => sum + output.length, 0);
  if (compressed > sampled * INCOMPRESSIBLE_RATIO) return 0;
  if (compressed < sampled * TRIVIAL_RATIO) return 1;
  return requested;
}

interface GzipMember {
  output: Buffer;
  /** True when the block was stored (level 0) because it looked incompressible. */
  stored: boolean;
}

/** One block as one complete gzip member, compressed on the thread pool. */
async function gzipBlock(block: Uint8Array, requestedLevel: number): Promise<GzipMember> {
  const level = await levelFor(block, requestedLevel);
  // An output buffer larger than any member (stored data grows by a few bytes per 64 KiB), so that
  // zlib compresses the block in one pass instead of one thread-pool round trip per 16 KiB.
  const output = await gzipAsync(block, { level, chunkSize: block.length + (block.length >>> 3) + 1024 });
  return { output, stored: level === 0 };
}

interface StreamTotals {
  hash: ReturnType<typeof createHash>;
  size: number;
}

/** Hashes and counts the input while cutting it into blocks, each in a buffer of its own. */
async function* inputBlocks(source: ByteSource, blockSize: number, totals: StreamTotals): AsyncGenerator<Uint8Array> {
  let block = new Uint8Array(blockSize);
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
        yield block;
        block = new Uint8Array(blockSize);
        used = 0;
      }
    }
  }
  if (used > 0) yield block.subarray(0, used);
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
  const inFlight: Array<Promise<GzipMember>> = [];
  const member = (result: GzipMember): Buffer => {
    counts.blocks++;
    if (result.stored) counts.stored++;
    return result.output;
  };
  for await (const block of inputBlocks(source, options.blockSize, inputTotals)) {
    const job = gzipBlock(block, options.level);
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
  const maxBlocksInFlight = options.maxBlocksInFlight ?? 2 * availableParallelism();
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
