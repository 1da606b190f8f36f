/**
 * Worker thread of the parallel gzip compressor: turns one block into one complete gzip member.
 * Blocks that a quick trial shows to be incompressible (already compressed data, random bytes) are
 * stored (deflate level 0) instead of paying full deflate effort for nothing.
 */
import { parentPort } from 'node:worker_threads';
import { deflateRawSync, gzipSync } from 'node:zlib';
import type { GzipJob, GzipJobResult } from './gzip-protocol.js';

const SAMPLE_SIZE = 8 * 1024;
const SAMPLE_COUNT = 3;
/** A sample that deflates to more than this fraction of its size marks the block as incompressible. */
const INCOMPRESSIBLE_RATIO = 0.95;
/** Below this fraction (runs of zeros, sparse files) the fastest level compresses as well as any. */
const TRIVIAL_RATIO = 0.02;

/**
 * The deflate level for a block, from a few evenly spaced samples deflated at the fastest level:
 * 0 (stored) for incompressible data, 1 for trivially compressible data, else the requested level.
 * Deterministic in the block's bytes, so the output never depends on timing or on which worker ran it.
 */
function levelFor(block: Uint8Array, requested: number): number {
  if (block.length < SAMPLE_SIZE * SAMPLE_COUNT) return requested;
  const stride = Math.floor((block.length - SAMPLE_SIZE) / (SAMPLE_COUNT - 1));
  let sampled = 0;
  let compressed = 0;
  for (let i = 0; i < SAMPLE_COUNT; i++) {
    const sample = block.subarray(i * stride, i * stride + SAMPLE_SIZE);
    sampled += sample.length;
    compressed += deflateRawSync(sample, { level: 1 }).length;
  }
  if (compressed > sampled * INCOMPRESSIBLE_RATIO) return 0;
  if (compressed < sampled * TRIVIAL_RATIO) return 1;
  return requested;
}

function ownArrayBuffer(data: Buffer): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) return data.buffer;
  const copy = new ArrayBuffer(data.byteLength);
  new Uint8Array(copy).set(data);
  return copy;
}

const port = parentPort;
if (port === null) throw new Error('gzip-worker must run as a worker thread');

port.on('message', (job: GzipJob) => {
  const block = new Uint8Array(job.block, 0, job.length);
  const level = levelFor(block, job.level);
  const stored = level === 0;
  const output = gzipSync(block, { level, chunkSize: job.length + (job.length >>> 3) + 1024 });
  const buffer = ownArrayBuffer(output);
  const result: GzipJobResult = { id: job.id, output: buffer, length: output.byteLength, stored };
  port.postMessage(result, [buffer]);
});
