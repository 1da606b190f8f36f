import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { GantryError } from './errors.js';

/** An OCI digest string, "sha256:<64 hex>". */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

export function parseDigest(value: string): Digest {
  if (!isDigest(value)) {
    throw new GantryError(`invalid digest "${value}"`, { hint: 'digests look like sha256: followed by 64 hex characters' });
  }
  return value;
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function hashToDigest(hash: Hash): Digest {
  return `sha256:${hash.digest('hex')}`;
}

export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}

export async function sha256File(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hashToDigest(hash);
}

/** "sha256:0123456789ab" — the short form used in progress output and messages. */
export function shortDigest(digest: string): string {
  return digest.replace(/^(sha256:[a-f0-9]{12})[a-f0-9]*$/, '$1');
}
