/**
 * File-system operations Node has no API for, each done with one process per batch rather than one per
 * file: reading every xattr of a tree (getfattr), setting many xattrs (setfattr --restore) and creating
 * device nodes and fifos (GNU tar extracting a small archive gantry writes). Plus the sorted directory
 * listing both differs walk with.
 */
import { readdirSync } from 'node:fs';
import { runTool, GantryError } from '../util/index.js';
import { type LayerEntry, layerTarChunks } from '../image/index.js';

export type XattrMap = Map<string, Buffer>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeFileName(raw: Buffer, dir: string): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new GantryError(`file name ${JSON.stringify(raw.toString('latin1'))} in "${dir}" is not valid UTF-8, which gantry does not support`);
  }
}

/**
 * Names in `dir`, sorted by their bytes (the order Go's filepath.Walk and so Docker use). Synchronous,
 * as are the walks' other metadata calls: a thread-pool round trip costs ~20× the system call.
 */
export function readdirSorted(dir: string): string[] {
  const raw = readdirSync(dir, { encoding: 'buffer' });
  raw.sort(Buffer.compare);
  return raw.map((name) => decodeFileName(name, dir));
}

/** getfattr's quoting: backslash and unprintable bytes as \ooo. */
function unquote(text: string): Buffer {
  return Buffer.from(text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))), 'latin1');
}

/** The quoting setfattr --restore undoes: anything but a safe printable byte as \ooo. */
function quote(path: string): string {
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    const safe = byte > 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x3d;
    out += safe ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/**
 * Every extended attribute under `root` (symlinks not followed), keyed by path relative to root
 * ('' for root itself). Files without xattrs are absent. One getfattr process for the whole tree.
 */
export async function readXattrTree(root: string): Promise<Map<string, XattrMap>> {
  const { stdout } = await runTool(
    'getfattr',
    ['--recursive', '--dump', '--no-dereference', '--physical', '--match=-', '--encoding=hex', '--absolute-names', '--', root],
    `reading extended attributes of ${root}`,
    { package: 'attr' },
  );
  const tree = new Map<string, XattrMap>();
  const prefix = root.endsWith('/') ? root : `${root}/`;
  let current: XattrMap | undefined;
  for (const line of stdout.toString('latin1').split('\n')) {
    if (line.startsWith('# file: ')) {
      const path = utf8.decode(unquote(line.slice('# file: '.length)));
      const rel = path === root || `${path}/` === prefix ? '' : path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
      if (rel === undefined) throw new GantryError(`getfattr reported a path outside ${root}: ${path}`);
      current = new Map();
      tree.set(rel, current);
      continue;
    }
    if (line === '' || current === undefined) continue;
    const eq = line.indexOf('=');
    const name = utf8.decode(unquote(eq < 0 ? line : line.slice(0, eq)));
    const value = eq < 0 ? '' : line.slice(eq + 1);
    if (value.startsWith('0x')) current.set(name, Buffer.from(value.slice(2), 'hex'));
    else current.set(name, Buffer.from(value.replace(/^"|"$/g, ''), 'latin1'));
  }
  return tree;
}

export interface XattrAssignment {
  /** Absolute path; its last component is not followed if it is a symlink. */
  path: string;
  name: string;
  value: Uint8Array;
}

/** Sets all `assignments` with one setfattr process. */
export async function setXattrs(assignments: readonly XattrAssignment[], what: string): Promise<void> {
  if (assignments.length === 0) return;
  const byPath = new Map<string, XattrAssignment[]>();
  for (const assignment of assignments) {
    const list = byPath.get(assignment.path) ?? [];
    list.push(assignment);
    byPath.set(assignment.path, list);
  }
  let dump = '';
  for (const [path, list] of byPath) {
    dump += `# file: ${quote(path)}\n`;
    for (const { name, value } of list) {
      dump += `${quote(name)}=${value.length === 0 ? '""' : `0x${Buffer.from(value).toString('hex')}`}\n`;
    }
    dump += '\n';
  }
  await runTool('setfattr', ['--no-dereference', '--restore=-'], what, { input: Buffer.from(dump, 'latin1'), package: 'attr' });
}

export interface SpecialFile {
  /** Path relative to `root`; every parent is a real directory (no symlinks) when the batch runs. */
  path: string;
  type: 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  devMajor: number;
  devMinor: number;
}

/**
 * Creates device nodes and fifos (which need mknod(2), out of Node's reach) with their mode, owner and
 * mtime, by extracting an archive of them with GNU tar: one process per batch instead of one per node.
 */
export async function createSpecialFiles(root: string, files: readonly SpecialFile[], what: string): Promise<void> {
  if (files.length === 0) return;
  const entries: LayerEntry[] = files.map((file) => ({
    path: file.path, type: file.type, mode: file.mode, uid: file.uid, gid: file.gid, size: 0, mtime: file.mtime,
    devMajor: file.devMajor, devMinor: file.devMinor,
  }));
  const archive: Buffer[] = [];
  for await (const chunk of layerTarChunks(entries)) archive.push(chunk);
  const ownership = process.getuid?.() === 0 ? ['--same-owner', '--numeric-owner'] : ['--no-same-owner'];
  await runTool(
    'tar',
    ['--extract', '--file=-', `--directory=${root}`, '--same-permissions', '--no-recursion', ...ownership],
    what,
    { input: Buffer.concat(archive), package: 'tar' },
  );
}
