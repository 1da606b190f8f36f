/**
 * Encodes tar headers exactly as Go's archive/tar does for the headers containerd's layer writer builds
 * (numeric ids, no uname/gname, whole-second mtime, no atime/ctime): plain USTAR when the entry fits,
 * otherwise a PAX extended header ('x') before a USTAR-magic header. Matching Go byte for byte means a
 * layer gantry writes has the same diffID as BuildKit's for the same files.
 */
import { GantryError } from '../util/index.js';

export const BLOCK_SIZE = 512;

export const TypeFlag = {
  file: 0x30, // '0'
  hardlink: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
  contiguous: 0x37,
  paxLocal: 0x78, // 'x'
  paxGlobal: 0x67, // 'g'
  gnuLongName: 0x4c, // 'L'
  gnuLongLink: 0x4b, // 'K'
  gnuSparse: 0x53, // 'S'
} as const;

/** The fields one header encodes. Strings are written as UTF-8. */
export interface TarHeaderFields {
  name: string;
  typeflag: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds since the epoch (may be negative: then carried in a PAX record). */
  mtime: number;
  linkname: string;
  devMajor: number;
  devMinor: number;
  /** PAX records beyond the ones derived from the fields above, e.g. SCHILY.xattr.*; values are raw bytes. */
  extraRecords?: ReadonlyMap<string, Uint8Array>;
}

const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const OCTAL_LIMIT_7 = 0o7777777; // largest value of an 8-byte octal field
const OCTAL_LIMIT_11 = 0o77777777777; // 12-byte octal field

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80 || c === 0) return false;
  }
  return true;
}

/** Go's toASCII: best effort, non-ASCII characters are dropped. */
function toAscii(s: string): string {
  if (isAscii(s)) return s;
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x80 && c !== 0) out += ch;
  }
  return out;
}

/** Go's splitUSTARPath: a name longer than 100 bytes split at a '/' into prefix (≤155) and suffix (≤100). */
function splitUstarPath(name: string): { prefix: string; suffix: string } | undefined {
  let length = name.length;
  if (length <= NAME_SIZE || !isAscii(name)) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const suffixLength = name.length - i - 1;
  if (i <= 0 || suffixLength > NAME_SIZE || suffixLength === 0 || i > PREFIX_SIZE) return undefined;
  return { prefix: name.slice(0, i), suffix: name.slice(i + 1) };
}

function writeString(block: Buffer, offset: number, size: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  bytes.copy(block, offset, 0, Math.min(size, bytes.length));
  if (bytes.length > size && block[offset + size - 1] === 0x2f) {
    // As Go does: a truncated name must not end in '/' or old readers take a file for a directory.
    let n = size;
    while (n > 0 && block[offset + n - 1] === 0x2f) n--;
    block[offset + n] = 0;
  }
}

function writeOctal(block: Buffer, offset: number, size: number, value: number): void {
  const digits = value.toString(8).padStart(size - 1, '0');
  block.write(digits, offset, size - 1, 'latin1');
  block[offset + size - 1] = 0;
}

function fitsOctal(value: number, limit: number): boolean {
  return value >= 0 && value <= limit;
}

function finishBlock(block: Buffer): void {
  block.write('ustar\x0000', 257, 8, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += block[i]!;
  writeOctal(block, 148, 7, sum);
  block[155] = 0x20;
}

/** One PAX record: "<len> <key>=<value>\n" where len counts the whole record in bytes. */
function paxRecord(key: string, value: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let size = body.length + String(body.length).length;
  if (String(size).length + body.length !== size) size = String(size).length + body.length;
  return Buffer.concat([Buffer.from(String(size), 'latin1'), body]);
}

/** Go's path.Join(dir, "PaxHeaders.0", file) after path.Split(name), truncated and trimmed as writeRawFile does. */
function paxHeaderName(name: string): string {
  const slash = name.lastIndexOf('/');
  const dir = name.slice(0, slash + 1).replace(/\/+$/, '');
  const file = name.slice(slash + 1);
  const joined = [dir, 'PaxHeaders.0', file].filter((part) => part !== '').join('/');
  return toAscii(joined).slice(0, NAME_SIZE).replace(/\/+$/, '');
}

function headerBlock(fields: TarHeaderFields, name: string, linkname: string, prefix: string, zeroUnfit: boolean): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  const num = (offset: number, size: number, value: number, limit: number): void => {
    writeOctal(block, offset, size, zeroUnfit && !fitsOctal(value, limit) ? 0 : value);
  };
  writeString(block, 0, NAME_SIZE, name);
  num(100, 8, fields.mode, OCTAL_LIMIT_7);
  num(108, 8, fields.uid, OCTAL_LIMIT_7);
  num(116, 8, fields.gid, OCTAL_LIMIT_7);
  num(124, 12, fields.size, OCTAL_LIMIT_11);
  num(136, 12, fields.mtime, OCTAL_LIMIT_11);
  block[156] = fields.typeflag;
  writeString(block, 157, NAME_SIZE, linkname);
  num(329, 8, fields.devMajor, OCTAL_LIMIT_7);
  num(337, 8, fields.devMinor, OCTAL_LIMIT_7);
  if (prefix !== '') writeString(block, 345, PREFIX_SIZE, prefix);
  finishBlock(block);
  return block;
}

/** The 'x' header before PAX records: like Go's writeRawFile, only name, zero numbers, size and type. */
function paxHeaderBlock(name: string, size: number): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  writeString(block, 0, NAME_SIZE, name);
  writeOctal(block, 100, 8, 0);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block[156] = TypeFlag.paxLocal;
  finishBlock(block);
  return block;
}

/**
 * Encodes the header block(s) of one entry: 512 bytes for plain USTAR, or a PAX extended header with its
 * records followed by the main header.
 */
export function encodeTarHeader(fields: TarHeaderFields): Buffer {
  if (!Number.isSafeInteger(fields.size) || fields.size < 0) {
    throw new GantryError(`tar entry "${fields.name}" has an invalid size ${fields.size}`);
  }
  for (const [label, value] of [['uid', fields.uid], ['gid', fields.gid]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new GantryError(`tar entry "${fields.name}" has an invalid ${label} ${value}`);
  }
  if (fields.devMajor > OCTAL_LIMIT_7 || fields.devMinor > OCTAL_LIMIT_7 || fields.devMajor < 0 || fields.devMinor < 0) {
    throw new GantryError(`tar entry "${fields.name}" has device numbers ${fields.devMajor}:${fields.devMinor} that a tar header cannot hold`);
  }
  const records = new Map<string, Uint8Array>();
  let ustar = true;

  const nameTooLong = Buffer.byteLength(fields.name) > NAME_SIZE;
  if (!isAscii(fields.name) || nameTooLong) {
    records.set('path', Buffer.from(fields.name, 'utf8'));
    if (splitUstarPath(fields.name) === undefined) ustar = false;
  }
  if (!isAscii(fields.linkname) || Buffer.byteLength(fields.linkname) > NAME_SIZE) {
    records.set('linkpath', Buffer.from(fields.linkname, 'utf8'));
    ustar = false;
  }
  const numeric: Array<[string, number, number]> = [
    ['uid', fields.uid, OCTAL_LIMIT_7],
    ['gid', fields.gid, OCTAL_LIMIT_7],
    ['size', fields.size, OCTAL_LIMIT_11],
    ['mtime', fields.mtime, OCTAL_LIMIT_11],
  ];
  for (const [key, value, limit] of numeric) {
    if (!fitsOctal(value, limit)) {
      records.set(key, Buffer.from(String(value), 'latin1'));
      ustar = false;
    }
  }
  if (fields.extraRecords && fields.extraRecords.size > 0) {
    for (const [key, value] of fields.extraRecords) {
      if (key === '' || key.includes('=') || key.includes('\0')) {
        throw new GantryError(`tar entry "${fields.name}" has an invalid PAX record name "${key}"`);
      }
      records.set(key, value);
    }
    ustar = false;
  }

  if (ustar) {
    const split = splitUstarPath(fields.name);
    return split
      ? headerBlock(fields, split.suffix, fields.linkname, split.prefix, false)
      : headerBlock(fields, fields.name, fields.linkname, '', false);
  }

  const keys = [...records.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const data = Buffer.concat(keys.map((key) => paxRecord(key, records.get(key)!)));
  const paxBlock = paxHeaderBlock(paxHeaderName(fields.name), data.length);
  const padding = (BLOCK_SIZE - (data.length % BLOCK_SIZE)) % BLOCK_SIZE;
  const main = headerBlock(fields, toAscii(fields.name), toAscii(fields.linkname), '', true);
  return Buffer.concat([paxBlock, data, Buffer.alloc(padding), main]);
}

/** Zero bytes that pad an entry's content of `size` bytes to a whole block. */
export function paddingFor(size: number): number {
  return (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
}
