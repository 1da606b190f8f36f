/** Test helpers: tar bytes from headers or entries, and a comparable description of a directory tree. */
import { createHash } from 'node:crypto';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type LayerEntry, layerTarChunks } from '../../src/image/index.js';
import { type TarHeaderFields, TypeFlag, encodeTarHeader, paddingFor } from '../../src/image/tar-header.js';
import { readXattrTree, readdirSorted } from '../../src/snapshot/fsops.js';

export async function tarOf(entries: LayerEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of layerTarChunks(entries)) parts.push(chunk);
  return Buffer.concat(parts);
}

/** A tar written header by header, for entries the layer writer would refuse (hostile layers). */
export function rawTar(entries: Array<Partial<TarHeaderFields> & { name: string; content?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const { content = '', ...fields } of entries) {
    const data = Buffer.from(content);
    parts.push(
      encodeTarHeader({
        typeflag: TypeFlag.file, mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 1700000000, linkname: '', devMajor: 0, devMinor: 0,
        ...fields,
      }),
      data,
      Buffer.alloc(paddingFor(data.length)),
    );
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface TreeNode {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime?: number;
  content?: string;
  link?: string;
  rdev?: number;
  xattrs?: Record<string, string>;
  /** Index of the first path sharing this node's inode, when it is hardlinked. */
  inode?: string;
}

/** Everything the round trip must preserve, path by path (directory mtimes included). */
export async function describeTree(root: string): Promise<TreeNode[]> {
  const xattrs = await readXattrTree(root);
  const nodes: TreeNode[] = [];
  const inodes = new Map<number, string>();
  async function walk(dir: string): Promise<void> {
    for (const name of await readdirSorted(join(root, dir))) {
      const path = dir === '' ? name : `${dir}/${name}`;
      const full = join(root, path);
      const st = await lstat(full);
      const node: TreeNode = { path, type: '', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) node.type = 'dir';
      else if (st.isSymbolicLink()) node.type = 'symlink';
      else if (st.isFile()) node.type = 'file';
      else if (st.isCharacterDevice()) node.type = 'char';
      else if (st.isBlockDevice()) node.type = 'block';
      else if (st.isFIFO()) node.type = 'fifo';
      if (!st.isSymbolicLink()) node.mtime = Math.floor(st.mtimeMs / 1000);
      if (st.isFile()) node.content = createHash('sha256').update(await readFile(full)).digest('hex');
      if (st.isSymbolicLink()) node.link = await readlink(full);
      if (st.isCharacterDevice() || st.isBlockDevice()) node.rdev = st.rdev;
      const attrs = xattrs.get(path);
      if (attrs) node.xattrs = Object.fromEntries([...attrs].map(([k, v]) => [k, v.toString('hex')]));
      if (!st.isDirectory() && st.nlink > 1) {
        node.inode = inodes.get(st.ino) ?? path;
        inodes.set(st.ino, node.inode);
      }
      nodes.push(node);
      if (st.isDirectory()) await walk(path);
    }
  }
  await walk('');
  return nodes;
}
