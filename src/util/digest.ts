import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { GantryError, quoteForMessage } from './errors.js';

/** An OCI digest string, "sha256:<64 hex>". */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

/** Digest algorithms the OCI image spec registers besides sha256: well-formed, but not handled by gantry. */
const OTHER_REGISTERED_ALGORITHMS: Record<string, RegExp> = {
  sha512: /^[a-f0-9]{128}$/,
  blake3: /^[a-f0-9]{64}$/,
};

/**
 * Checks a digest from any source; `what` names where it was found ("manifest sha256:… layer 2").
 * gantry turns digests into file names, so one that is not `sha256:<64 lowercase hex>` is refused, with
 * the message containerd and skopeo give ("invalid checksum digest format").
 */
export function checkDigest(value: unknown, what: string): Digest {
  if (typeof value === 'string' && isDigest(value)) return value;
  if (typeof value === 'string') {
    const colon = value.indexOf(':');
    const algorithm = value.slice(0, colon);
    if (colon > 0 && OTHER_REGISTERED_ALGORITHMS[algorithm]?.test(value.slice(colon + 1))) {
      throw new GantryError(`${what}: digest algorithm ${algorithm} is not supported (${quoteForMessage(value)})`, {
        hint: 'gantry reads sha256 digests; convert the image with a tool that writes them',
      });
    }
  }
  throw new GantryError(`${what}: invalid checksum digest format ${quoteForMessage(value)}`, {
    hint: 'digests are "sha256:" and 64 lowercase hex digits; the input is malformed or was altered, and nothing of it was used',
  });
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
