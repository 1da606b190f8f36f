import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type DetectedCompression, decompressLayer, detectCompression } from '../../src/image/index.js';
import { GantryError } from '../../src/util/errors.js';

const original = Buffer.concat([Buffer.from('layer tar bytes '.repeat(50_000)), randomBytes(300_000)]);

const tools: Record<Exclude<DetectedCompression, 'none' | 'gzip'>, string[]> = {
  zstd: ['zstd', '-c', '-q'],
  xz: ['xz', '-c'],
  bzip2: ['bzip2', '-c'],
};

function compressWith(format: DetectedCompression, data: Buffer): Buffer {
  if (format === 'none') return data;
  if (format === 'gzip') return execFileSync('gzip', ['-c', '-6'], { input: data, maxBuffer: 64 << 20 });
  const [command, ...args] = tools[format];
  return execFileSync(command!, args, { input: data, maxBuffer: 64 << 20 });
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

function* chunked(data: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

/** Children of this process (any tool a decompression left running would be one). */
function childPids(): number[] {
  const tasks = `/proc/${process.pid}/task`;
  const pids: number[] = [];
  for (const tid of execFileSync('ls', [tasks]).toString().trim().split('\n')) {
    const text = readFileSync(`${tasks}/${tid}/children`, 'utf8').trim();
    if (text) pids.push(...text.split(' ').map(Number));
  }
  return pids;
}

describe('layer decompression', () => {
  for (const format of ['gzip', 'zstd', 'xz', 'bzip2', 'none'] as const) {
    it(`detects and decompresses ${format}`, async () => {
      const blob = compressWith(format, original);
      assert.equal(detectCompression(blob.subarray(0, 6)), format);
      // Tiny first chunks make the detector wait for enough bytes.
      const source = [blob.subarray(0, 1), blob.subarray(1, 3), ...chunked(blob.subarray(3), 50_000)];
      assert.ok((await collect(decompressLayer(source, 'sha256:test'))).equals(original));
    });
  }

  it('reads multi-member gzip', async () => {
    const blob = Buffer.concat([gzipSync(original.subarray(0, 1000)), gzipSync(original.subarray(1000))]);
    assert.ok((await collect(decompressLayer([blob], 'multi'))).equals(original));
  });

  for (const format of ['gzip', 'zstd', 'xz', 'bzip2'] as const) {
    it(`fails on corrupt ${format} data with an error naming the layer, leaving no process behind`, async () => {
      const blob = Buffer.from(compressWith(format, original));
      const corrupt = Buffer.concat([blob.subarray(0, 64), Buffer.alloc(4096, 0x55), blob.subarray(64 + 4096)]);
      const truncated = blob.subarray(0, Math.floor(blob.length / 2));
      for (const bad of [corrupt, truncated]) {
        await assert.rejects(collect(decompressLayer(chunked(bad, 10_000), 'sha256:feedface')), (err: unknown) => {
          assert.ok(err instanceof GantryError);
          assert.match(err.message, /sha256:feedface/);
          return true;
        });
      }
      assert.deepEqual(childPids(), []);
    });
  }

  it('ends the decompressor when the reader stops early', async () => {
    const blob = compressWith('zstd', Buffer.concat(Array.from({ length: 20 }, () => original)));
    const stream = decompressLayer(chunked(blob, 4096), 'early');
    for await (const chunk of stream) {
      assert.ok(chunk.length > 0);
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(childPids(), []);
  });

  it('passes a failing source through as the error', async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield compressWith('xz', original).subarray(0, 1000);
      throw new GantryError('blob read failed');
    }
    await assert.rejects(collect(decompressLayer(failing(), 'x')), /blob read failed/);
    assert.deepEqual(childPids(), []);
  });
});
