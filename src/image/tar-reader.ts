/**
 * Streaming tar reader for layers: USTAR, PAX (path, linkpath, size, uid, gid, mtime, SCHILY.xattr.*
 * with binary values), GNU long names and base-256 numbers. Every byte read — up to the end of the
 * stream, past the end-of-archive blocks — goes through a sha256 so the caller gets the diffID.
 */
import { createHash } from 'node:crypto';
import { hashToDigest, type Digest, GantryError, quoteForMessage } from '../util/index.js';
import type { ByteSource } from './compress.js';
import { BLOCK_SIZE, TypeFlag, paddingFor, type TarHeaderFields } from './tar-header.js';

/** A header as read: the fields a header encodes, with PAX records already applied to them. */
export interface TarEntryHeader extends Omit<TarHeaderFields, 'extraRecords'> {
  /** The name as recorded (PAX path, GNU long name or prefix/name), not yet normalized. */
  name: string;
  /** Seconds since the epoch; PAX times may carry a fraction. */
  mtime: number;
  xattrs: Map<string, Buffer>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function* asAsync(source: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* source;
}

/** Pulls exact byte counts out of an async chunk stream, hashing everything it hands out. */
class ByteCursor {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private chunk: Buffer = Buffer.alloc(0);
  private done = false;
  readonly hash = createHash('sha256');
  consumed = 0;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.iterator = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : asAsync(source);
  }

  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0) {
      if (this.done) return false;
      const next = await this.iterator.next();
      if (next.done) {
        this.done = true;
        return false;
      }
      const value = next.value;
      this.chunk = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
    return true;
  }

  private take(n: number): Buffer {
    const out = this.chunk.subarray(0, n);
    this.chunk = this.chunk.subarray(n);
    this.hash.update(out);
    this.consumed += out.length;
    return out;
  }

  /** Up to `max` bytes (at least one unless the stream ended). */
  async readSome(max: number): Promise<Buffer | undefined> {
    if (!(await this.fill())) return undefined;
    return this.take(Math.min(max, this.chunk.length));
  }

  /** Exactly `n` bytes, or fewer if the stream ends first. */
  async readExact(n: number): Promise<Buffer> {
    if (this.chunk.length >= n) return Buffer.from(this.take(n));
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const part = await this.readSome(n - have);
      if (!part) break;
      parts.push(part);
      have += part.length;
    }
    return Buffer.concat(parts, have);
  }

  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const part = await this.readSome(left);
      if (!part) break;
      left -= part.length;
    }
    return n - left;
  }

  async drain(): Promise<void> {
    while (await this.readSome(Number.MAX_SAFE_INTEGER));
  }

  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.iterator.return?.();
    }
  }
}

function cString(block: Buffer, offset: number, size: number): Buffer {
  const field = block.subarray(offset, offset + size);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

export class TarReader {
  private readonly bytes: ByteCursor;
  private remaining = 0;
  private padding = 0;
  private ended = false;

  constructor(source: ByteSource, private readonly layer: string) {
    this.bytes = new ByteCursor(source);
  }

  get bytesRead(): number {
    return this.bytes.consumed;
  }

  private fail(message: string, offset: number): GantryError {
    return new GantryError(`layer ${this.layer}: ${message} (at byte ${offset})`, {
      hint: 'the layer is not a valid tar archive; remove it from the store and pull or build it again',
    });
  }

  private decodeName(raw: Buffer, offset: number): string {
    try {
      return utf8.decode(raw);
    } catch {
      throw this.fail(`entry name ${quoteForMessage(raw.toString('latin1'), 200)} is not valid UTF-8, which gantry does not support`, offset);
    }
  }

  private numeric(block: Buffer, offset: number, size: number, at: number): number {
    const field = block.subarray(offset, offset + size);
    if (field[0]! & 0x80) {
      // GNU base-256: big-endian two's complement with the top bit as the marker.
      let value = BigInt(field[0]! & 0x7f);
      const negative = (field[0]! & 0x40) !== 0;
      if (negative) value = BigInt((field[0]! & 0x7f) | 0x80) - 256n;
      for (let i = 1; i < size; i++) value = (value << 8n) | BigInt(field[i]!);
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw this.fail('numeric field out of range', at);
      return Number(value);
    }
    const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
    if (text === '') return 0;
    if (!/^[0-7]+$/.test(text)) throw this.fail(`invalid numeric field "${text}"`, at);
    const value = parseInt(text, 8);
    if (!Number.isSafeInteger(value)) throw this.fail('numeric field out of range', at);
    return value;
  }

  private async skipRest(): Promise<void> {
    const want = this.remaining + this.padding;
    if (want > 0 && (await this.bytes.skip(want)) !== want) throw this.fail('unexpected end of stream inside an entry', this.bytes.consumed);
    this.remaining = 0;
    this.padding = 0;
  }

  private async readSpecial(size: number, at: number): Promise<Buffer> {
    if (size > 16 << 20) throw this.fail('extended header larger than 16 MiB', at);
    const data = await this.bytes.readExact(size);
    const pad = paddingFor(size);
    if (data.length !== size || (await this.bytes.skip(pad)) !== pad) throw this.fail('unexpected end of stream inside an extended header', at);
    return data;
  }

  private parsePax(data: Buffer, at: number): Map<string, Buffer> {
    const records = new Map<string, Buffer>();
    let pos = 0;
    while (pos < data.length) {
      const space = data.indexOf(0x20, pos);
      if (space < 0) throw this.fail('malformed PAX record', at);
      const length = Number(data.subarray(pos, space).toString('latin1'));
      if (!Number.isInteger(length) || length <= space - pos + 1 || pos + length > data.length || data[pos + length - 1] !== 0x0a) {
        throw this.fail('malformed PAX record', at);
      }
      const record = data.subarray(space + 1, pos + length - 1);
      const eq = record.indexOf(0x3d);
      if (eq <= 0) throw this.fail('malformed PAX record', at);
      const key = record.subarray(0, eq).toString('utf8');
      const value = record.subarray(eq + 1);
      // As Go's archive/tar (validPAXRecord): a name may not hold a NUL, which ends it for every other reader.
      if (key.includes('\0') || ((key === 'path' || key === 'linkpath') && value.includes(0))) throw this.fail(`PAX record ${JSON.stringify(key.slice(0, 40))} holds a NUL byte`, at);
      records.set(key, value);
      pos += length;
    }
    return records;
  }

  /** The next entry's header, or undefined at the end of the archive. Any unread content of the previous entry is skipped. */
  async next(): Promise<TarEntryHeader | undefined> {
    if (this.ended) return undefined;
    await this.skipRest();
    const pax = new Map<string, Buffer>();
    let longName: Buffer | undefined;
    let longLink: Buffer | undefined;
    for (;;) {
      const at = this.bytes.consumed;
      const block = await this.bytes.readExact(BLOCK_SIZE);
      if (block.length === 0 && pax.size === 0 && longName === undefined && longLink === undefined) {
        // A stream that stops on a block boundary without end blocks is accepted, as Go's reader does.
        this.ended = true;
        return undefined;
      }
      if (block.length !== BLOCK_SIZE) throw this.fail('unexpected end of stream inside a header', at);
      if (block.every((byte) => byte === 0)) {
        this.ended = true;
        return undefined;
      }
      let unsigned = 0;
      let signed = 0;
      for (let i = 0; i < BLOCK_SIZE; i++) {
        const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
        unsigned += byte;
        signed += byte > 127 ? byte - 256 : byte;
      }
      const recorded = this.numeric(block, 148, 8, at);
      if (recorded !== unsigned && recorded !== signed) throw this.fail('tar header checksum mismatch', at);

      const typeflag = block[156]!;
      const size = this.numeric(block, 124, 12, at);
      if (typeflag === TypeFlag.paxLocal) {
        for (const [key, value] of this.parsePax(await this.readSpecial(size, at), at)) pax.set(key, value);
        continue;
      }
      if (typeflag === TypeFlag.paxGlobal) {
        // Global records hold no per-file state that layers use; containerd ignores them too.
        await this.readSpecial(size, at);
        continue;
      }
      if (typeflag === TypeFlag.gnuLongName || typeflag === TypeFlag.gnuLongLink) {
        const data = await this.readSpecial(size, at);
        const nul = data.indexOf(0);
        const value = nul < 0 ? data : data.subarray(0, nul);
        if (typeflag === TypeFlag.gnuLongName) longName = value;
        else longLink = value;
        continue;
      }
      if (typeflag === TypeFlag.gnuSparse || [...pax.keys()].some((key) => key.startsWith('GNU.sparse.'))) {
        throw this.fail('sparse files in layers are not supported', at);
      }

      const magic = block.subarray(257, 263).toString('latin1');
      let nameBytes = cString(block, 0, 100);
      if (magic === 'ustar\0') {
        const prefix = cString(block, 345, 155);
        if (prefix.length > 0) nameBytes = Buffer.concat([prefix, Buffer.from('/'), nameBytes]);
      }
      if (longName !== undefined) nameBytes = longName;
      const name = this.decodeName(pax.get('path') ?? nameBytes, at);
      const linkname = this.decodeName(pax.get('linkpath') ?? longLink ?? cString(block, 157, 100), at);

      // As Go's archive/tar reads them: decimal integers, an mtime with an optional fraction. Number()
      // alone would take "0x10", "1e3" or " 5", and read the layer differently from containerd.
      const paxNumber = (key: string, fallback: number): number => {
        const raw = pax.get(key);
        if (raw === undefined) return fallback;
        const text = raw.toString('latin1');
        const value = Number(text);
        const pattern = key === 'mtime' ? /^[-+]?\d+(\.\d*)?$/ : /^[-+]?\d+$/;
        if (!pattern.test(text) || !Number.isSafeInteger(Math.trunc(value))) throw this.fail(`invalid PAX ${key} ${JSON.stringify(text.slice(0, 40))}`, at);
        return value;
      };
      let entryType = typeflag;
      if (typeflag === 0 || typeflag === TypeFlag.contiguous) entryType = TypeFlag.file;
      if (typeflag === 0 && name.endsWith('/')) entryType = TypeFlag.dir;
      const xattrs = new Map<string, Buffer>();
      for (const [key, value] of pax) {
        if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
      }
      const header: TarEntryHeader = {
        name,
        typeflag: entryType,
        mode: this.numeric(block, 100, 8, at) & 0o7777,
        uid: paxNumber('uid', this.numeric(block, 108, 8, at)),
        gid: paxNumber('gid', this.numeric(block, 116, 8, at)),
        size: paxNumber('size', size),
        mtime: paxNumber('mtime', this.numeric(block, 136, 12, at)),
        linkname,
        devMajor: this.numeric(block, 329, 8, at),
        devMinor: this.numeric(block, 337, 8, at),
        xattrs,
      };
      if (!Number.isSafeInteger(header.size) || header.size < 0) throw this.fail(`entry ${quoteForMessage(name, 200)} has an invalid size`, at);
      // Links, directories, devices and fifos never have content, whatever their size field says.
      const headerOnly = [TypeFlag.hardlink, TypeFlag.symlink, TypeFlag.char, TypeFlag.block, TypeFlag.dir, TypeFlag.fifo] as number[];
      const hasBody = !headerOnly.includes(header.typeflag);
      this.remaining = hasBody ? header.size : 0;
      this.padding = hasBody ? paddingFor(header.size) : 0;
      return header;
    }
  }

  /** The current entry's content, in chunks. */
  async *body(): AsyncGenerator<Buffer> {
    while (this.remaining > 0) {
      const chunk = await this.bytes.readSome(this.remaining);
      if (!chunk) throw this.fail('unexpected end of stream inside an entry', this.bytes.consumed);
      this.remaining -= chunk.length;
      yield chunk;
    }
  }

  /** Reads the rest of the stream (end blocks and any trailing bytes) so the digest covers all of it. */
  async finish(): Promise<Digest> {
    await this.skipRest();
    await this.bytes.drain();
    return hashToDigest(this.bytes.hash);
  }

  /** Stops reading early (on error), releasing the source. */
  async close(): Promise<void> {
    await this.bytes.close();
  }
}
