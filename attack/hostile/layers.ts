/**
 * Hostile layer tars: each family attacks one rule an unpacker must keep (stay inside the root, never
 * write through a link, refuse what it cannot create faithfully, survive any header field), with the
 * details drawn from the seeded generator. Every path that would leave the root aims at `targets`:
 * the suite's sentinel directory, and names under /tmp carrying the suite's marker, which the judge
 * looks for after each trial.
 */
import type { Random } from '../lib.js';
import { BLOCK, Type, tarBytes, type RawEntry } from './tar.js';

export interface EscapeTargets {
  /** An absolute directory outside the store holding `file`; nothing may change in it. */
  sentinel: string;
  /** A name no honest run creates; nothing so named may appear in /tmp or the sentinel. */
  marker: string;
}

export interface HostileLayer {
  /** Family and variant, for the report. */
  label: string;
  tar: Buffer;
}

/** Enough `../` to climb from any directory gantry extracts into up to `/`. */
const CLIMB = '../'.repeat(24);

function escapeTargets(rng: Random, t: EscapeTargets): string[] {
  return [
    `${t.sentinel}/${t.marker}`,
    `${t.sentinel}/file`,
    `/tmp/${t.marker}`,
    `${CLIMB}tmp/${t.marker}`,
    `${CLIMB}${t.sentinel.slice(1)}/${t.marker}`,
    `${CLIMB.slice(0, 3 * (1 + rng.int(8)))}${t.marker}`,
  ];
}

function linkTarget(rng: Random, t: EscapeTargets): string {
  return rng.pick([t.sentinel, `${t.sentinel}/file`, `${CLIMB}${t.sentinel.slice(1)}`, '/', '/tmp', `${CLIMB}tmp`, '..', '../..', `/proc/self/root${t.sentinel}`]);
}

const file = (name: string, content = 'benign\n', extra: Partial<RawEntry> = {}): RawEntry => ({ name, type: Type.file, data: Buffer.from(content), ...extra });
const dir = (name: string, extra: Partial<RawEntry> = {}): RawEntry => ({ name, type: Type.dir, mode: 0o755, ...extra });
const symlink = (name: string, target: string): RawEntry => ({ name, type: Type.symlink, linkname: target, mode: 0o777 });
const hardlink = (name: string, target: string, extra: Partial<RawEntry> = {}): RawEntry => ({ name, type: Type.hardlink, linkname: target, ...extra });

/** A small ordinary tree, so hostile entries come among honest ones. */
function benign(rng: Random): RawEntry[] {
  const entries: RawEntry[] = [dir('etc'), file('etc/os-release', 'NAME=hostile\n')];
  if (rng.next() < 0.5) entries.push(dir('usr'), dir('usr/bin'), file('usr/bin/tool', '#!/bin/sh\n', { mode: 0o755 }));
  if (rng.next() < 0.3) entries.push(symlink('bin', 'usr/bin'));
  return entries;
}

/** What a write "under" a link can be. */
function writeUnder(rng: Random, path: string, t: EscapeTargets): RawEntry {
  switch (rng.int(6)) {
    case 0:
      return dir(path);
    case 1:
      return symlink(path, `${t.sentinel}/file`);
    case 2:
      return { name: path, type: Type.fifo, mode: 0o644 };
    case 3:
      return { name: path, type: Type.char, devMajor: 1, devMinor: 3, mode: 0o666 };
    case 4:
      return hardlink(path, 'etc/os-release');
    default:
      return file(path, 'owned\n', { mode: rng.pick([0o644, 0o4755, 0o777]) });
  }
}

type Family = (rng: Random, t: EscapeTargets) => { variant: string; entries: RawEntry[]; end?: boolean };

const FAMILIES: Record<string, Family> = {
  'absolute-path': (rng, t) => {
    const name = rng.pick(escapeTargets(rng, t).filter((p) => p.startsWith('/')));
    return { variant: name.replace(t.sentinel, 'SENTINEL'), entries: [writeUnder(rng, name, t)] };
  },
  'dotdot-path': (rng, t) => {
    const name = rng.pick([...escapeTargets(rng, t).filter((p) => p.startsWith('..')), `a/../../${t.marker}`, `./../${t.marker}`, `etc/${CLIMB}tmp/${t.marker}`, `a/b/../../../../tmp/${t.marker}`]);
    const entry = writeUnder(rng, name, t);
    const how = rng.int(3);
    // The same name as a PAX path or a GNU long name, with a harmless name in the header.
    if (how === 1) return { variant: `pax path ${name.slice(0, 40)}`, entries: [{ ...entry, name: 'harmless', pax: [['path', name]] }] };
    if (how === 2) return { variant: `gnu long name ${name.slice(0, 40)}`, entries: [{ ...entry, gnuLong: true }] };
    return { variant: name.slice(0, 60), entries: [entry] };
  },
  'symlink-write-through': (rng, t) => {
    const target = linkTarget(rng, t);
    const entries: RawEntry[] = [];
    let link = 'link';
    if (rng.next() < 0.3) {
      // A chain: link → hop → target.
      entries.push(symlink('hop', target), symlink('link', 'hop'));
    } else if (rng.next() < 0.2) {
      entries.push(dir('d'), symlink('d/link', target));
      link = 'd/link';
    } else {
      entries.push(symlink(link, target));
    }
    const under = rng.pick([`${link}/${t.marker}`, `${link}/file`, `${link}/sub/${t.marker}`, `${link}/.wh.file`, `${link}/.wh..wh..opq`]);
    entries.push(writeUnder(rng, under, t));
    return { variant: `${link} -> ${target.replace(t.sentinel, 'SENTINEL').slice(-40)}, then ${under}`, entries };
  },
  'symlink-replace': (rng, t) => {
    const entries: RawEntry[] = [file('x', 'first\n'), symlink('x', rng.pick([`${t.sentinel}/file`, `${CLIMB}${t.sentinel.slice(1)}/file`]))];
    const then = rng.int(4);
    if (then === 0) entries.push(file('x', 'through the link?\n', { mode: 0o4777 }));
    else if (then === 1) entries.push(dir('x', { mode: 0o777 }));
    else if (then === 2) entries.push(hardlink('y', 'x', { mode: 0o6777 }));
    else entries.push({ name: 'x', type: Type.file, mode: 0o7777, data: Buffer.from('x'), pax: [['SCHILY.xattr.user.owned', 'yes']] });
    return { variant: ['overwrite', 'dir over', 'hardlink to', 'xattr'][then]!, entries };
  },
  hardlink: (rng, t) => {
    const entries: RawEntry[] = [dir('d'), symlink('s', `${t.sentinel}/file`), symlink('sd', t.sentinel)];
    const target = rng.pick([
      `${t.sentinel}/file`, `${CLIMB}${t.sentinel.slice(1)}/file`, 'missing', 'later', 'd', 's', 'sd', 'sd/file', 'h', '.', '', '/',
      'etc/os-release', '/etc/os-release', 'etc/../etc/os-release', `${CLIMB}etc/passwd`, '/proc/self/exe',
    ]);
    entries.push(hardlink('h', target, { mode: rng.pick([0o644, 0o4755, 0o6777, 0o7777]), uid: rng.pick([0, 1000, 65534]) }));
    if (target === 'later') entries.push(file('later'));
    if (rng.next() < 0.4) entries.push(file('h', 'rewritten\n'));
    if (rng.next() < 0.3) entries.push(hardlink('h2', 'h', { mode: 0o777 }));
    return { variant: `h -> ${target.replace(t.sentinel, 'SENTINEL').slice(-40)}`, entries };
  },
  device: (rng, t) => {
    const type = rng.pick([Type.char, Type.block, Type.fifo]);
    const [major, minor] = rng.pick([[1, 3], [8, 0], [0, 0], [1, 1], [4095, 1048575], [1, 2]] as const);
    const where = rng.pick(['dev/node', 'node', 'sd/node', `${t.marker}`]);
    const entries: RawEntry[] = where.startsWith('sd/') ? [symlink('sd', t.sentinel)] : [];
    entries.push({ name: where, type, devMajor: major, devMinor: minor, mode: rng.pick([0o666, 0o4666, 0o600]) });
    if (rng.next() < 0.3) entries.push(hardlink('again', where));
    return { variant: `${type === Type.char ? 'char' : type === Type.block ? 'block' : 'fifo'} ${major}:${minor} at ${where}`, entries };
  },
  setuid: (rng) => {
    const mode = rng.pick([0o4755, 0o6777, 0o7777, 0o2755, 0o1777]);
    const uid = rng.pick([0, 1, 1000, 65534, 2 ** 31 - 1]);
    const entry = rng.next() < 0.7 ? file('usr/bin/suid', '#!/bin/sh\n', { mode, uid, gid: uid }) : dir('usr/bin/sdir', { mode, uid, gid: uid });
    return { variant: `mode ${mode.toString(8)} uid ${uid}`, entries: [dir('usr'), dir('usr/bin'), entry] };
  },
  whiteout: (rng, t) => {
    const name = rng.pick(['.wh.etc', '.wh..wh..opq', '.wh.', '.wh..', '.wh...', 'etc/.wh.os-release', 'sd/.wh.file', 'sd/.wh..wh..opq', '.wh..wh.plnk', `.wh.${t.marker}`, 'etc/.wh..wh..opq']);
    return { variant: name, entries: [symlink('sd', t.sentinel), { name, type: Type.file, mode: 0, data: Buffer.alloc(0) }] };
  },
  'header-field': (rng) => {
    const data = Buffer.from('content\n');
    const field = rng.pick(['size', 'mode', 'uid', 'gid', 'mtime', 'dev', 'checksum', 'magic', 'type', 'name']);
    const entry: RawEntry = { name: 'target', type: Type.file, data };
    let value: string;
    switch (field) {
      case 'size': {
        const size = rng.pick<number | bigint | Buffer>([2n ** 62n, -1n, -(2n ** 40n), 2 ** 33, 1, 0, 511, 513, Buffer.from('99999999999z'), Buffer.from('-0000000010\0'), Buffer.from('\0'.repeat(12))]);
        entry.size = size;
        value = String(Buffer.isBuffer(size) ? JSON.stringify(size.toString('latin1')) : size);
        break;
      }
      case 'mode':
      case 'uid':
      case 'gid': {
        const v = rng.pick<number | bigint | Buffer>([2n ** 40n, -1n, -5n, 2 ** 32, 2 ** 32 - 1, 2 ** 31, 0o7777777, Buffer.from('zzzzzzz\0'), Buffer.from('0x10\0')]);
        entry[field] = v;
        value = String(Buffer.isBuffer(v) ? JSON.stringify(v.toString('latin1')) : v);
        break;
      }
      case 'mtime': {
        const v = rng.pick<number | bigint | Buffer>([2n ** 62n, -(2n ** 62n), -1n, 2n ** 40n, Buffer.from('1e300\0'), 0]);
        entry.mtime = v;
        value = String(Buffer.isBuffer(v) ? JSON.stringify(v.toString('latin1')) : v);
        break;
      }
      case 'dev':
        entry.type = rng.pick([Type.char, Type.block]);
        entry.devMajor = rng.pick<number | bigint | Buffer>([2n ** 40n, -1n, Buffer.from('zz\0')]);
        entry.devMinor = rng.pick<number | bigint>([2n ** 40n, -1n, 5]);
        value = `${String(entry.devMajor)}:${String(entry.devMinor)}`;
        break;
      case 'checksum':
        entry.checksumDelta = rng.pick([1, -1, 256, -100000]);
        value = String(entry.checksumDelta);
        break;
      case 'magic':
        entry.magic = rng.pick([Buffer.alloc(8), Buffer.from('ustar  \0', 'latin1'), Buffer.from('garbage!', 'latin1')]);
        value = JSON.stringify(entry.magic.toString('latin1'));
        break;
      case 'type':
        entry.type = rng.pick([0, 0xff, 'V', 'M', 'N', 'A', 'D', 'I', 'X', '8', 'Z', Type.contiguous, Type.paxGlobal]);
        value = String(entry.type);
        break;
      default:
        entry.name = rng.pick<string | Buffer>(['', '.', '/', './', '//', 'a\0b', Buffer.from([0xff, 0xfe, 0x41]), 'x'.repeat(100), `${'d/'.repeat(60)}f`, '\u202e\u0000']);
        value = JSON.stringify(entry.name.toString());
    }
    return { variant: `${field} ${value.slice(0, 40)}`, entries: [entry] };
  },
  pax: (rng, t) => {
    const records: Array<[string, string | Buffer]> = [];
    const key = rng.pick(['size', 'uid', 'gid', 'mtime', 'path', 'linkpath', 'sparse', 'xattr', 'raw', 'huge', 'global']);
    const entry: RawEntry = { name: 'target', type: Type.file, data: Buffer.from('pax\n') };
    let variant = key;
    switch (key) {
      case 'size':
        records.push(['size', rng.pick(['abc', '-1', '1e3', '0x10', '', ' 5', '99999999999999999999', '4', '4.5', 'Infinity'])]);
        break;
      case 'uid':
      case 'gid':
        records.push([key, rng.pick(['-1', '0x10', '1.5', '4294967296', '4294967295', '1e400', '', '-0', '  7'])]);
        break;
      case 'mtime':
        records.push(['mtime', rng.pick(['1e300', '-1e300', 'nan', '1.2.3', '-99999999999999', '1700000000.123456789', '9'.repeat(400), ''])]);
        break;
      case 'path':
        records.push(['path', rng.pick([`a\0/${t.marker}`, `${CLIMB}tmp/${t.marker}`, `/tmp/${t.marker}`, 'x'.repeat(1 << 20), '', '.'])]);
        break;
      case 'linkpath':
        entry.type = rng.pick([Type.symlink, Type.hardlink]);
        records.push(['linkpath', rng.pick([`${t.sentinel}\0/x`, `${CLIMB}${t.sentinel.slice(1)}/file`, 'a/'.repeat(1 << 18), ''])]);
        break;
      case 'sparse':
        records.push(['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', 'sparse'], ['GNU.sparse.realsize', String(2 ** 40)]);
        break;
      case 'xattr':
        records.push([
          `SCHILY.xattr.${rng.pick(['trusted.overlay.opaque', 'trusted.overlay.redirect', 'security.capability', 'user.big', 'user.', 'system.posix_acl_access', 'security.selinux', 'bogus.name'])}`,
          rng.pick([Buffer.from('y'), Buffer.alloc(70_000, 0x41), Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xff]), Buffer.alloc(0)]),
        ]);
        break;
      case 'raw':
        entry.paxRaw = rng.pick([
          Buffer.from('5 a=b\n'), Buffer.from('999 path=x\n'), Buffer.from('10 path\n'), Buffer.from('0 =\n'), Buffer.from('11 path=x'),
          Buffer.from('-5 path=x\n'), Buffer.from('12 =novalue\n'), Buffer.from('abc\n'), Buffer.from('18446744073709551616 x=y\n'),
        ]);
        variant = `raw ${JSON.stringify(entry.paxRaw.toString('latin1'))}`;
        break;
      case 'huge':
        // Past the 16 MiB an extended header may have.
        records.push(['comment', 'c'.repeat((16 << 20) + 1)]);
        break;
      default:
        return { variant: 'global header with path', entries: [{ name: 'g', type: Type.paxGlobal, data: Buffer.from(`30 path=${CLIMB.slice(0, 15)}\n`) }, entry] };
    }
    if (records.length > 0) {
      entry.pax = records;
      variant = `${key} ${JSON.stringify(String(records[0]![1]).slice(0, 30))}`;
    }
    return { variant, entries: [entry] };
  },
  'gnu-long': (rng, t) => {
    const name = rng.pick([
      'a/'.repeat(1 + rng.int(3000)) + 'f', `long/${'n'.repeat(300)}`, `x\0${CLIMB}tmp/${t.marker}`, `${CLIMB}tmp/${t.marker}/${'l'.repeat(120)}`, 'l'.repeat(5000),
    ]);
    const entry: RawEntry = rng.next() < 0.5 ? { name, type: Type.file, data: Buffer.from('long\n'), gnuLong: true } : { name, type: Type.symlink, linkname: `${t.sentinel}/${'k'.repeat(200)}`, gnuLong: true };
    return { variant: `${name.length} bytes`, entries: [entry] };
  },
  sparse: (rng) => {
    const entry: RawEntry = { name: 'sparse', type: Type.sparse, size: rng.pick([0, 512, 2 ** 40]), data: Buffer.alloc(512) };
    return { variant: `size ${String(entry.size)}`, entries: [entry] };
  },
  'link-loop': (rng) => {
    const entries: RawEntry[] = [symlink('a', 'b'), symlink('b', 'a')];
    entries.push(rng.next() < 0.5 ? file('a/x') : hardlink('h', 'a/x'));
    if (rng.next() < 0.3) entries.unshift(symlink('self', 'self'), file('self/x'));
    return { variant: 'a -> b -> a', entries };
  },
  'deep-tree': (rng) => {
    const depth = 50 + rng.int(400);
    const entries: RawEntry[] = [];
    let path = '';
    for (let i = 0; i < depth; i++) {
      path = path === '' ? 'd' : `${path}/d`;
      entries.push(dir(path));
    }
    entries.push(file(`${path}/leaf`));
    return { variant: `${depth} levels`, entries };
  },
};

const LAYER_FAMILIES = Object.keys(FAMILIES);

/** A hostile layer tar of `family` (or a random family), among benign entries. */
export function hostileLayer(rng: Random, targets: EscapeTargets, family = rng.pick(LAYER_FAMILIES)): HostileLayer {
  const { variant, entries } = FAMILIES[family]!(rng, targets);
  const all = [...benign(rng), ...entries];
  if (rng.next() < 0.3) all.push(file('etc/after', 'after\n'));
  return { label: `${family}: ${variant}`, tar: tarBytes(all) };
}

/** Flips bytes of a valid layer's headers (half the time fixing the checksum, so the damage gets past it). */
export function flippedLayer(rng: Random, targets: EscapeTargets): HostileLayer {
  const base = hostileLayer(rng, targets, rng.pick(['symlink-write-through', 'hardlink', 'setuid', 'device'])).tar;
  const bytes = Buffer.from(base);
  const headers: number[] = [];
  for (let at = 0; at + BLOCK <= bytes.length; at += BLOCK) if (bytes.subarray(at + 257, at + 262).toString('latin1') === 'ustar') headers.push(at);
  const flips = 1 + rng.int(6);
  const fixChecksum = rng.next() < 0.5;
  for (let i = 0; i < flips; i++) {
    const at = rng.pick(headers) + rng.int(BLOCK);
    bytes[at] = rng.next() < 0.5 ? bytes[at]! ^ (1 << rng.int(8)) : rng.int(256);
  }
  if (fixChecksum) for (const at of headers) fixHeaderChecksum(bytes, at);
  return { label: `byte flips: ${flips} in headers${fixChecksum ? ', checksums fixed' : ''}`, tar: bytes };
}

/** A valid layer cut short at a random place (inside a header, inside content, on a block boundary). */
export function truncatedLayer(rng: Random, targets: EscapeTargets): HostileLayer {
  const base = hostileLayer(rng, targets, 'setuid').tar;
  const cut = rng.next() < 0.3 ? BLOCK * rng.int(base.length / BLOCK) : rng.int(base.length);
  return { label: `truncated at ${cut} of ${base.length}`, tar: base.subarray(0, cut) };
}

function fixHeaderChecksum(bytes: Buffer, at: number): void {
  const block = bytes.subarray(at, at + BLOCK);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  block[154] = 0;
}
