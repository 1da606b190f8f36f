/**
 * A tar writer for hostile archives: every header field can be given any value, including values no
 * honest writer produces (negative base-256 numbers, garbage digits, wrong checksums, NUL bytes in
 * names), and PAX and GNU long-name headers can be stacked in front of an entry at will. What it
 * keeps true: the bytes are exactly what the entries describe, so a trial can be replayed from its seed.
 */
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';

export const BLOCK = 512;

export const Type = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
  contiguous: '7',
  pax: 'x',
  paxGlobal: 'g',
  longName: 'L',
  longLink: 'K',
  sparse: 'S',
} as const;

/** A numeric header field: a number (octal when it fits, else GNU base-256, negative included) or raw bytes. */
type NumberField = number | bigint | Buffer;

export interface RawEntry {
  name: string | Buffer;
  /** One character ('0', '5', 'x', ...) or a byte value. */
  type?: string | number;
  mode?: NumberField;
  uid?: NumberField;
  gid?: NumberField;
  /** The size field; defaults to the length of `data`. */
  size?: NumberField;
  mtime?: NumberField;
  linkname?: string | Buffer;
  devMajor?: NumberField;
  devMinor?: NumberField;
  /** Bytes after the header, padded to a block (their length need not match the size field). */
  data?: Buffer;
  /** PAX records written in an 'x' header before the entry. */
  pax?: Array<[string, string | Buffer]>;
  /** The raw text of the 'x' header's records, for malformed ones. */
  paxRaw?: Buffer;
  /** Emit the name (and linkname) as GNU 'L'/'K' headers before the entry. */
  gnuLong?: boolean;
  /** The magic and version at offset 257 (default "ustar\0" "00"). */
  magic?: Buffer;
  /** Added to the correct checksum (0: correct). */
  checksumDelta?: number;
}

function putString(block: Buffer, offset: number, size: number, value: string | Buffer): void {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  bytes.copy(block, offset, 0, Math.min(size, bytes.length));
}

function putNumber(block: Buffer, offset: number, size: number, value: NumberField): void {
  if (Buffer.isBuffer(value)) {
    value.copy(block, offset, 0, Math.min(size, value.length));
    return;
  }
  const big = BigInt(value);
  const octalLimit = 8n ** BigInt(size - 1);
  if (big >= 0n && big < octalLimit) {
    block.write(big.toString(8).padStart(size - 1, '0'), offset, size - 1, 'latin1');
    block[offset + size - 1] = 0;
    return;
  }
  // GNU base-256: big-endian two's complement, top bit of the first byte set.
  let rest = big < 0n ? (1n << BigInt(size * 8)) + big : big;
  for (let i = size - 1; i >= 0; i--) {
    block[offset + i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  block[offset] = block[offset]! | 0x80;
}

function typeByte(type: string | number | undefined): number {
  if (type === undefined) return Type.file.charCodeAt(0);
  return typeof type === 'number' ? type : type.charCodeAt(0);
}

function header(entry: RawEntry, dataLength: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  putString(block, 0, 100, entry.name);
  putNumber(block, 100, 8, entry.mode ?? 0o644);
  putNumber(block, 108, 8, entry.uid ?? 0);
  putNumber(block, 116, 8, entry.gid ?? 0);
  putNumber(block, 124, 12, entry.size ?? dataLength);
  putNumber(block, 136, 12, entry.mtime ?? 1_700_000_000);
  block[156] = typeByte(entry.type);
  putString(block, 157, 100, entry.linkname ?? '');
  (entry.magic ?? Buffer.from('ustar\x0000', 'latin1')).copy(block, 257, 0, 8);
  putNumber(block, 329, 8, entry.devMajor ?? 0);
  putNumber(block, 337, 8, entry.devMinor ?? 0);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  sum += entry.checksumDelta ?? 0;
  block.write((Math.max(0, sum) & 0o777777).toString(8).padStart(6, '0'), 148, 6, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

function padded(data: Buffer): Buffer[] {
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  return pad === 0 ? [data] : [data, Buffer.alloc(pad)];
}

/** One PAX record, "<len> <key>=<value>\n", its length counting itself. */
function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), typeof value === 'string' ? Buffer.from(value, 'utf8') : value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length), 'latin1'), body]);
}

/** The blocks of one entry, with its PAX and GNU long-name headers. */
export function entryBlocks(entry: RawEntry): Buffer[] {
  const blocks: Buffer[] = [];
  const special = (type: string, body: Buffer): void => {
    blocks.push(header({ name: '././@LongLink', type, mode: 0, data: body }, body.length), ...padded(body));
  };
  if (entry.pax || entry.paxRaw) {
    const records = entry.paxRaw ?? Buffer.concat((entry.pax ?? []).map(([k, v]) => paxRecord(k, v)));
    blocks.push(header({ name: 'PaxHeaders.0/entry', type: Type.pax, mode: 0 }, records.length), ...padded(records));
  }
  if (entry.gnuLong) {
    const asBuffer = (value: string | Buffer): Buffer => Buffer.concat([typeof value === 'string' ? Buffer.from(value, 'utf8') : value, Buffer.alloc(1)]);
    special(Type.longName, asBuffer(entry.name));
    if (entry.linkname !== undefined) special(Type.longLink, asBuffer(entry.linkname));
  }
  const data = entry.data ?? Buffer.alloc(0);
  blocks.push(header(entry, data.length), ...padded(data));
  return blocks;
}

/** A whole archive; `end` false leaves out the two end-of-archive blocks. */
export function tarBytes(entries: RawEntry[], end = true): Buffer {
  const blocks = entries.flatMap(entryBlocks);
  if (end) blocks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(blocks);
}

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

export const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'zstd', 'xz', 'bzip2'];

const TOOL_ARGS: Record<Exclude<Compression, 'none' | 'gzip'>, [string, string[]]> = {
  zstd: ['zstd', ['-q', '-c', '-3']],
  xz: ['xz', ['-q', '-c', '-0']],
  bzip2: ['bzip2', ['-q', '-c', '-1']],
};

export function compress(data: Buffer, how: Compression): Buffer {
  if (how === 'none') return data;
  if (how === 'gzip') return gzipSync(data, { level: 1 });
  const [command, args] = TOOL_ARGS[how];
  const result = spawnSync(command, args, { input: data, maxBuffer: 1 << 30 });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr.toString()}`);
  return result.stdout;
}

export function compressionSuffix(how: Compression): string {
  return { none: '', gzip: '.gz', zstd: '.zst', xz: '.xz', bzip2: '.bz2' }[how];
}
