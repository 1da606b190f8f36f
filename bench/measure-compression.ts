/**
 * Throughput of layer compression on 512 MiB of half random, half zero data (random and zero runs of
 * 8 MiB alternating): gantry's parallel multi-member gzip vs. single-threaded zlib level 6 vs. `gzip -6`.
 * A measurement to read, not a test: run `node dist/bench/measure-compression.js` after building.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { compressLayer } from '../src/image/index.js';

const TOTAL = 512 * 1024 * 1024;
const RUN = 8 * 1024 * 1024;
const CHUNK = 1024 * 1024;

const randomRun = randomBytes(RUN);
const zeroRun = Buffer.alloc(RUN);

function* input(): Generator<Buffer> {
  for (let offset = 0; offset < TOTAL; offset += CHUNK) {
    const run = Math.floor(offset / RUN) % 2 === 0 ? randomRun : zeroRun;
    yield run.subarray(offset % RUN, (offset % RUN) + CHUNK);
  }
}

class CountingSink extends Writable {
  bytes = 0;
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.bytes += chunk.length;
    done();
  }
}

async function time(label: string, run: () => Promise<number>): Promise<void> {
  const start = process.hrtime.bigint();
  const outputBytes = await run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const mibPerSecond = TOTAL / (1024 * 1024) / seconds;
  console.log(`${label.padEnd(40)} ${seconds.toFixed(2).padStart(7)} s  ${mibPerSecond.toFixed(0).padStart(5)} MiB/s  output ${(outputBytes / 1024 / 1024).toFixed(1)} MiB`);
}

async function gzipCommand(): Promise<number> {
  const child = spawn('gzip', ['-6', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const sink = new CountingSink();
  const exited = new Promise((resolve) => child.once('close', resolve));
  await Promise.all([pipeline(Readable.from(input()), child.stdin), pipeline(child.stdout, sink)]);
  await exited;
  return sink.bytes;
}

console.log(`512 MiB, half random / half zero, ${availableParallelism()} cores`);
for (let round = 1; round <= 2; round++) {
  await time(`gantry compressLayer (gzip 6, ${availableParallelism()} cores)`, async () => {
    const sink = new CountingSink();
    await compressLayer(input(), sink);
    return sink.bytes;
  });
  await time('zlib createGzip level 6 (one thread)', async () => {
    const sink = new CountingSink();
    await pipeline(Readable.from(input()), createGzip({ level: 6 }), sink);
    return sink.bytes;
  });
  await time('gzip -6', gzipCommand);
}
