/**
 * Decompression bombs: a blob of about a megabyte (gzip) or tens of kilobytes (zstd) that expands to a
 * tar holding one file of 1 GiB of zeros, or to 1 GiB of zeros that is no tar at all. Built from
 * repeated compressed members (gzip) or frames (zstd), both valid multi-part streams, so making one
 * costs nothing; the tar's digest (its diff ID) is computed once.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { BLOCK, Type, compress, entryBlocks } from './tar.js';

const BOMB_BYTES = 1 << 30;
const PIECE = Buffer.alloc(1 << 20);

export interface Bomb {
  /** The compressed blob. */
  blob: Buffer;
  /** sha256 of the tar it expands to; undefined for bare zeros. */
  diffId?: string;
}

let tarDigest: string | undefined;

function tarHeader(): Buffer {
  const [header] = entryBlocks({ name: 'zeros', type: Type.file, size: BOMB_BYTES, mode: 0o644 });
  return header!;
}

function bombTarDigest(): string {
  if (tarDigest) return tarDigest;
  const hash = createHash('sha256').update(tarHeader());
  for (let done = 0; done < BOMB_BYTES; done += PIECE.length) hash.update(PIECE);
  tarDigest = `sha256:${hash.update(Buffer.alloc(BLOCK * 2)).digest('hex')}`;
  return tarDigest;
}

/** A bomb expanding to a tar of one 1 GiB file (`tar`), or to 1 GiB of bare zeros. */
export function makeBomb(compression: 'gzip' | 'zstd', tar: boolean): Bomb {
  const part = (data: Buffer): Buffer => (compression === 'gzip' ? gzipSync(data, { level: 9 }) : compress(data, 'zstd'));
  const zeros = part(PIECE);
  const parts: Buffer[] = [];
  if (tar) parts.push(part(tarHeader()));
  for (let done = 0; done < BOMB_BYTES; done += PIECE.length) parts.push(zeros);
  if (tar) parts.push(part(Buffer.alloc(BLOCK * 2)));
  return { blob: Buffer.concat(parts), diffId: tar ? bombTarDigest() : undefined };
}
