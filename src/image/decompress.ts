/**
 * Layer decompression: the format is read from the blob's first bytes, not trusted from a media type.
 * gzip (including multi-member) uses Node's zlib; zstd, xz and bzip2 stream through the system tools.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable, pipeline as pipelineCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { hashToDigest, type Digest, GantryError, errnoCode, isGantryError } from '../util/index.js';
import type { ByteSource } from './compress.js';

export type DetectedCompression = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

/** Bytes needed to tell every supported format apart. */
export const COMPRESSION_MAGIC_LENGTH = 6;

function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  if (head.length < magic.length) return false;
  return magic.every((byte, i) => head[i] === byte);
}

/** The compression of a blob from its first bytes ('none' for anything unrecognized, such as a tar). */
export function detectCompression(head: Uint8Array): DetectedCompression {
  if (startsWith(head, [0x1f, 0x8b, 0x08])) return 'gzip';
  if (startsWith(head, [0x28, 0xb5, 0x2f, 0xfd])) return 'zstd';
  if (startsWith(head, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz';
  if (startsWith(head, [0x42, 0x5a, 0x68]) && head.length >= 4 && head[3]! >= 0x31 && head[3]! <= 0x39) return 'bzip2';
  return 'none';
}

const TOOLS: Record<'zstd' | 'xz' | 'bzip2', { command: string; args: string[]; pkg: string }> = {
  zstd: { command: 'zstd', args: ['-dc', '-q'], pkg: 'zstd' },
  xz: { command: 'xz', args: ['-dc', '-q'], pkg: 'xz-utils' },
  bzip2: { command: 'bzip2', args: ['-dc', '-q'], pkg: 'bzip2' },
};

const STDERR_LIMIT = 4096;

/** Reads until `COMPRESSION_MAGIC_LENGTH` bytes (or the end) are seen, then replays them before the rest. */
async function peek(source: ByteSource): Promise<{ head: Buffer; stream: AsyncIterable<Uint8Array> }> {
  const iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : (async function* () {
    yield* source;
  })();
  const seen: Uint8Array[] = [];
  let length = 0;
  while (length < COMPRESSION_MAGIC_LENGTH) {
    const next = await iterator.next();
    if (next.done) break;
    seen.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(seen);
  async function* replay(): AsyncGenerator<Uint8Array> {
    if (head.length > 0) yield head;
    try {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  }
  return { head, stream: replay() };
}

function decompressError(layer: string, format: DetectedCompression, detail: string, cause?: unknown): GantryError {
  return new GantryError(`layer ${layer}: cannot decompress ${format} data: ${detail}`, {
    hint: 'the blob is corrupt or truncated; remove it from the store and pull or build it again',
    cause,
  });
}

async function* gunzip(source: AsyncIterable<Uint8Array>, layer: string): AsyncGenerator<Buffer> {
  const inflater = createGunzip();
  const output = pipelineCallback(Readable.from(source, { objectMode: false }), inflater, () => undefined);
  try {
    for await (const chunk of output) yield chunk as Buffer;
  } catch (err) {
    if (isGantryError(err)) throw err;
    throw decompressError(layer, 'gzip', err instanceof Error ? err.message : String(err), err);
  } finally {
    inflater.destroy();
  }
}

async function* throughTool(source: AsyncIterable<Uint8Array>, format: 'zstd' | 'xz' | 'bzip2', layer: string): AsyncGenerator<Buffer> {
  const tool = TOOLS[format];
  const child = spawn(tool.command, tool.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: unknown }>((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < STDERR_LIMIT) stderr += chunk.toString('utf8');
  });
  let inputError: unknown;
  // The tool's exit status explains a broken pipe better than the pipe error itself does.
  const feeding = pipeline(Readable.from(source, { objectMode: false }), child.stdin).catch((err: unknown) => {
    inputError = err;
  });
  let finished = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const status = await exited;
    await feeding;
    finished = true;
    if (status.spawnError !== undefined) {
      const missing = errnoCode(status.spawnError) === 'ENOENT';
      throw new GantryError(`layer ${layer} is ${format}-compressed and \`${tool.command}\` could not be run${missing ? ': it is not installed' : ''}`, {
        hint: `install the ${tool.pkg} package (scripts/install-deps.sh does)`,
        cause: status.spawnError,
      });
    }
    const pipeBroken = ['EPIPE', 'ERR_STREAM_PREMATURE_CLOSE'].includes(errnoCode(inputError) ?? '');
    if (inputError !== undefined && !pipeBroken) {
      if (isGantryError(inputError)) throw inputError;
      throw decompressError(layer, format, `reading the blob failed: ${String(inputError)}`, inputError);
    }
    if (status.code !== 0) {
      const detail = stderr.trim() || (status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`);
      throw decompressError(layer, format, `${tool.command}: ${detail}`);
    }
  } finally {
    if (!finished) {
      // The consumer stopped early or failed: end the tool and reap it so no process outlives the stream.
      child.kill('SIGKILL');
      await exited;
      await feeding;
    }
  }
}

/** A layer blob's diff ID: the sha256 of its decompressed bytes. Fails as decompressLayer does on corrupt data. */
export async function uncompressedDigest(source: ByteSource, layer: string): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of decompressLayer(source, layer)) hash.update(chunk as Buffer);
  return hashToDigest(hash);
}

/**
 * Decompresses a layer blob of any supported format; `layer` names it in errors (a digest or a path).
 * The returned stream fails with a GantryError naming the layer if the data is corrupt or truncated.
 */
export function decompressLayer(source: ByteSource, layer: string): Readable {
  async function* run(): AsyncGenerator<Uint8Array> {
    const { head, stream } = await peek(source);
    const format = detectCompression(head);
    switch (format) {
      case 'none':
        yield* stream;
        return;
      case 'gzip':
        yield* gunzip(stream, layer);
        return;
      default:
        yield* throughTool(stream, format, layer);
    }
  }
  return Readable.from(run(), { objectMode: false });
}
