/**
 * Worker thread of the parallel gzip compressor: turns one block into one complete gzip member.
 * Blocks that a quick trial shows to be incompressible (already compressed data, random bytes) are
 * stored (deflate level 0) instead of paying full deflate effort for nothing.
 */
import { parentPort } from 'node:worker_threads';
import { deflateRawSync, gzipSync } from 'node:zlib';
import type { GzipJob, GzipJobResult } from './gzip-protocol.js';

const SAMPLE_SIZE = 16 * 1024;
const SAMPLE_COUNT = 4;
/** A sample that deflates to more than this fraction of its size marks the block as incompressible. */
const INCOMPRESSIBLE_RATIO = 0.95;

/**
 * Deflates a few evenly spaced samples at the fastest level. Deterministic in the block's bytes, so the
 * output never depends on timing or on which worker ran the job.
 */
function looksIncompressible(block: Uint8Array): boolean {
  if (block.length < SAMPLE_SIZE * SAMPLE_COUNT) return false;
  const stride = Math.floor((block.length - SAMPLE_SIZE) / (SAMPLE_COUNT - 1));
  let sampled = 0;
  let compressed = 0;
  for (let i = 0; i < SAMPLE_COUNT; i++) {
    const sample = block.subarray(i * stride, i * stride + SAMPLE_SIZE);
    sampled += sample.length;
    compressed += deflateRawSync(sample, { level: 1 }).length;
  }
  return compressed > sampled * INCOMPRESSIBLE_RATIO;
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
  const stored = looksIncompressible(block);
  const output = gzipSync(block, { level: stored ? 0 : job.level, chunkSize: job.length + (job.length >>> 3) + 1024 });
  const buffer = ownArrayBuffer(output);
  const result: GzipJobResult = { id: job.id, output: buffer, length: output.byteLength, stored };
  port.postMessage(result, [buffer]);
});
