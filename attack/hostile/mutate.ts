/**
 * Field-by-field mutation of JSON documents (manifests, indexes, configs, index.json, manifest.json):
 * a field is picked anywhere in the tree and deleted, nulled, given a value of another type, a huge or
 * negative number, a deeply nested value, an unknown media type, a hostile digest, or an oversized
 * value; or the document's text is damaged. Deep and non-finite values are spliced into the text, so
 * the generator never builds (or stringifies) what it is attacking gantry with.
 */
import type { Random } from '../lib.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Mutation {
  label: string;
  /** The mutated document's bytes. */
  bytes: Buffer;
}

interface Slot {
  path: string;
  key: string | number;
  parent: Json[] | { [key: string]: Json };
  value: Json;
}

function slots(doc: Json, path = '', out: Slot[] = []): Slot[] {
  if (Array.isArray(doc)) doc.forEach((value, i) => (out.push({ path: `${path}[${i}]`, key: i, parent: doc, value }), slots(value, `${path}[${i}]`, out)));
  else if (doc !== null && typeof doc === 'object') for (const [key, value] of Object.entries(doc)) out.push({ path: `${path}.${key}`, key, parent: doc, value }), slots(value, `${path}.${key}`, out);
  return out;
}

const PLACEHOLDER = '\u0000splice\u0000';

/** Values spliced into the text in place of PLACEHOLDER. */
function rawValue(rng: Random): { text: string; label: string } {
  const depth = rng.pick([64, 129, 1000, 5000, 100_000]);
  const choice = rng.int(5);
  if (choice === 0) return { text: '['.repeat(depth) + ']'.repeat(depth), label: `array nested ${depth} deep` };
  if (choice === 1) return { text: '{"a":'.repeat(depth) + '1' + '}'.repeat(depth), label: `object nested ${depth} deep` };
  return rng.pick([
    { text: '1e400', label: 'Infinity (1e400)' },
    { text: '-1e400', label: '-Infinity' },
    { text: '-0', label: '-0' },
    { text: '123456789012345678901234567890', label: 'a 30-digit number' },
  ]);
}

function hostileDigest(rng: Random, others: string[]): string {
  return rng.pick([
    `sha256:${'A'.repeat(64)}`,
    `sha256:${'a'.repeat(63)}`,
    `sha512:${'b'.repeat(128)}`,
    'sha256:../../../../../../etc/passwd',
    `sha256:${'0'.repeat(64)}/../../x`,
    `sha256:${'c'.repeat(64)}`,
    '',
    'sha256:',
    ...others,
  ]);
}

const MEDIA_TYPES = [
  'application/x-evil',
  'application/vnd.oci.image.manifest.v1+json; charset=utf-8',
  '../../etc/passwd',
  '',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.empty.v1+json',
  `application/${'x'.repeat(300)}`,
];

/** Mutates one field of `doc` (or its text) and returns the new bytes. `digests` are other real digests to point at. */
export function mutateDocument(rng: Random, doc: Json, digests: string[]): Mutation {
  const copy = JSON.parse(JSON.stringify(doc)) as Json;
  const all = slots(copy);
  if (all.length === 0 || rng.next() < 0.12) return mutateText(rng, Buffer.from(JSON.stringify(doc)));
  const slot = rng.pick(all);
  const set = (value: Json): void => {
    if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = value;
    else slot.parent[slot.key as string] = value;
  };
  let label: string;
  let raw: { text: string; label: string } | undefined;
  const key = String(slot.key);
  const op = rng.int(10);
  if (key === 'digest' && op < 5) {
    const digest = hostileDigest(rng, digests);
    set(digest);
    label = `${slot.path} = ${JSON.stringify(digest).slice(0, 40)}`;
  } else if (key === 'size' && op < 5) {
    const size = rng.pick([-1, -1e18, 0, 1.5, 2 ** 53 + 2, 1e308, 1, (slot.value as number) + 1, (slot.value as number) - 1]);
    set(size);
    label = `${slot.path} = ${size}`;
  } else if (key === 'mediaType' && op < 5) {
    const type = rng.pick(MEDIA_TYPES);
    set(type);
    label = `${slot.path} = ${JSON.stringify(type).slice(0, 40)}`;
  } else {
    switch (rng.int(9)) {
      case 0:
        if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
        else delete slot.parent[slot.key as string];
        label = `${slot.path} removed`;
        break;
      case 1:
        set(null);
        label = `${slot.path} = null`;
        break;
      case 2: {
        const value = rng.pick<Json>([0, -1, 1.5, true, false, '', 'x', [], {}, [[1]], { a: {} }, ['sha256:x'], '2']);
        set(value);
        label = `${slot.path} = ${JSON.stringify(value)}`;
        break;
      }
      case 3:
      case 4:
        raw = rawValue(rng);
        set(PLACEHOLDER);
        label = `${slot.path} = ${raw.label}`;
        break;
      case 5: {
        const big = rng.pick([(4 << 20) + 10, 17 << 20, 40_000]);
        set(rng.next() < 0.5 ? 'x'.repeat(big) : Array.from({ length: Math.min(big, 200_000) }, () => 1));
        label = `${slot.path} = ${big} elements or bytes`;
        break;
      }
      case 6: {
        const name = rng.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'then']);
        const target = slot.value !== null && typeof slot.value === 'object' && !Array.isArray(slot.value) ? slot.value : copy;
        if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
          Object.defineProperty(target, name, { value: { polluted: true, digest: 'sha256:x' }, enumerable: true, configurable: true, writable: true });
        }
        label = `${slot.path}.${name} added`;
        break;
      }
      case 7: {
        const text = rng.pick(['\u0000', '\ud800', '../../../etc/passwd', '\u202e', 'x\ny', '%s%n']);
        set(typeof slot.value === 'string' ? slot.value + text : text);
        label = `${slot.path} += ${JSON.stringify(text)}`;
        break;
      }
      default: {
        // Another field's value: a digest where a size is, a list where a descriptor is.
        const other = rng.pick(all).value;
        set(JSON.parse(JSON.stringify(other)) as Json);
        label = `${slot.path} = the value of another field`;
      }
    }
  }
  let text = JSON.stringify(copy);
  if (raw) text = text.replace(JSON.stringify(PLACEHOLDER), raw.text);
  return { label, bytes: Buffer.from(text) };
}

/** Damage to the text itself: cut, flipped, prefixed or suffixed. */
export function mutateText(rng: Random, bytes: Buffer): Mutation {
  const out = Buffer.from(bytes);
  switch (rng.int(6)) {
    case 0: {
      const cut = rng.int(out.length);
      return { label: `text cut at ${cut}`, bytes: out.subarray(0, cut) };
    }
    case 1: {
      const at = rng.int(out.length);
      out[at] = rng.int(256);
      return { label: `byte ${at} replaced`, bytes: out };
    }
    case 2:
      return { label: 'UTF-8 BOM prefix', bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), out]) };
    case 3:
      return { label: 'trailing garbage', bytes: Buffer.concat([out, Buffer.from(' {}')]) };
    case 4: {
      // A duplicate key: parsers disagree on which one counts.
      const text = out.toString('utf8').replace(/^\{/, '{"schemaVersion":1,"mediaType":"application/x-evil",');
      return { label: 'duplicate keys first', bytes: Buffer.from(text) };
    }
    default:
      return { label: 'not JSON', bytes: Buffer.from(rng.pick(['', 'null', '[]', '"string"', '42', 'root:x:0:0:root:/root:/bin/sh\n', '\u0000\u0000'])) };
  }
}
