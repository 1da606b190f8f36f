/**
 * Shared pieces of the end-to-end tests: a store root with the busybox base image, build contexts
 * written from a description, the built image read straight from the store's OCI layout (not through
 * gantry's own code), layer tar listings, a real unpack with umoci, and the checks that a store was
 * left intact by a failed command.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, link, lutimes, mkdir, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header } from 'tar-stream';
import { importBusybox } from '../helpers/base-image.js';
import { gantry, tempDir, type GantryResult } from '../helpers/gantry.js';

export const execFileAsync = promisify(execFile);

export interface TestRoot {
  /** The store root (--root). */
  root: string;
  /** A scratch directory for contexts and outputs, beside the store. */
  work: string;
  cleanup(): Promise<void>;
}

/** A fresh store root holding busybox:latest, and a work directory. */
export async function busyboxRoot(prefix: string): Promise<TestRoot> {
  const dir = await tempDir(prefix);
  const root = join(dir.path, 'root');
  const work = join(dir.path, 'work');
  await mkdir(work);
  await importBusybox(root);
  return { root, work, cleanup: dir.cleanup };
}

export type TreeEntry =
  | string
  | { content: string | Buffer; mode?: number; mtime?: number }
  | { symlink: string }
  | { hardlink: string }
  | { dir: true; mode?: number; mtime?: number };

/** Writes files, links and directories (paths relative to `dir`, in the order given). */
export async function writeTree(dir: string, tree: Record<string, TreeEntry>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const times: Array<[string, number, boolean]> = [];
  for (const [rel, entry] of Object.entries(tree)) {
    const path = join(dir, rel);
    await mkdir(dirname(path), { recursive: true });
    if (typeof entry === 'string' || 'content' in entry) {
      const spec = typeof entry === 'string' ? { content: entry } : entry;
      await writeFile(path, spec.content);
      if (spec.mode !== undefined) await chmod(path, spec.mode);
      if (spec.mtime !== undefined) times.push([path, spec.mtime, false]);
    } else if ('symlink' in entry) {
      await symlink(entry.symlink, path);
    } else if ('hardlink' in entry) {
      await link(join(dir, entry.hardlink), path);
    } else {
      await mkdir(path, { recursive: true });
      if (entry.mode !== undefined) await chmod(path, entry.mode);
      if (entry.mtime !== undefined) times.push([path, entry.mtime, true]);
    }
  }
  // Directories last and deepest first, so writes below them do not move their times.
  times.sort((a, b) => Number(a[2]) - Number(b[2]) || b[0].length - a[0].length);
  for (const [path, mtime, isDir] of times) {
    if (isDir) await utimes(path, mtime, mtime);
    else await lutimes(path, mtime, mtime);
  }
  return dir;
}

/** `gantry build --progress plain`; fails the test with the build's output when it fails. */
export async function build(root: string, context: string, args: string[] = [], env?: NodeJS.ProcessEnv): Promise<GantryResult & { digest: string }> {
  const result = await gantry(root, ['build', '--progress', 'plain', ...args, context], { env });
  if (result.code !== 0) throw new Error(`gantry build ${args.join(' ')} exited ${result.code}\n--- stderr\n${result.stderr}`);
  const digest = /^(sha256:[a-f0-9]{64})/m.exec(result.stderr)?.[1];
  assert.ok(digest, `the build printed no digest:\n${result.stderr}`);
  return { ...result, digest };
}

/** A failed build: it exited non-zero with a GantryError, never an internal error or a stack trace. */
export async function failingBuild(root: string, context: string, args: string[] = []): Promise<GantryResult> {
  const result = await gantry(root, ['build', '--progress', 'plain', ...args, context]);
  assert.notEqual(result.code, 0, `the build should have failed:\n${result.stderr}`);
  assertCleanError(result.stderr);
  return result;
}

export function assertCleanError(stderr: string): void {
  assert.doesNotMatch(stderr, /internal error/, stderr);
  assert.doesNotMatch(stderr, /^\s+at .+:\d+:\d+\)?$/m, `a stack trace was printed:\n${stderr}`);
  assert.match(stderr, /^error: /m, stderr);
}

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface HistoryItem {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
  author?: string;
}

export interface ImageConfigDoc {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  config?: Record<string, unknown>;
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryItem[];
}

export interface ManifestDoc {
  schemaVersion: number;
  mediaType?: string;
  config: OciDescriptor;
  layers: OciDescriptor[];
}

export interface LayoutImage {
  descriptor: OciDescriptor;
  manifest: ManifestDoc;
  config: ImageConfigDoc;
}

export function blobPath(layout: string, digest: string): string {
  return join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** The image an OCI layout's index.json names `familiarName` (e.g. "app:latest"), or holds by manifest digest. */
export async function layoutImage(layout: string, nameOrDigest: string): Promise<LayoutImage> {
  const index = await readJson<{ manifests: OciDescriptor[] }>(join(layout, 'index.json'));
  const descriptor = index.manifests.find(
    (m) => m.digest === nameOrDigest || m.annotations?.['org.opencontainers.image.ref.name'] === nameOrDigest || m.annotations?.['io.containerd.image.name'] === nameOrDigest,
  );
  assert.ok(descriptor, `${nameOrDigest} is not in ${layout}/index.json`);
  const manifest = await readJson<ManifestDoc>(blobPath(layout, descriptor.digest));
  const config = await readJson<ImageConfigDoc>(blobPath(layout, manifest.config.digest));
  return { descriptor, manifest, config };
}

/** One entry of a layer tar, as tar-stream reads it. */
export interface TarItem {
  name: string;
  type: Header['type'];
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax: Record<string, string>;
  content?: Buffer;
}

/** Entries of a tar stream (gzip-compressed when `gzipped`), with the content of small files. */
export async function tarItems(path: string, gzipped: boolean): Promise<TarItem[]> {
  const items: TarItem[] = [];
  const ex = extract();
  const input = createReadStream(path);
  const fed = gzipped ? pipeline(input, createGunzip(), ex) : pipeline(input, ex);
  for await (const entry of ex) {
    const { header } = entry;
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    items.push({
      name: header.name,
      type: header.type,
      mode: header.mode,
      uid: header.uid,
      gid: header.gid,
      size: header.size,
      mtime: Math.floor(header.mtime.getTime() / 1000),
      linkname: header.linkname || undefined,
      devmajor: header.devmajor,
      devminor: header.devminor,
      pax: (header.pax as Record<string, string> | null | undefined) ?? {},
      content: header.type === 'file' && header.size <= 65536 ? Buffer.concat(chunks) : undefined,
    });
  }
  await fed;
  return items;
}

export async function layerItems(layout: string, layer: OciDescriptor): Promise<TarItem[]> {
  return tarItems(blobPath(layout, layer.digest), layer.mediaType.endsWith('gzip'));
}

/** The sha256 of a blob's uncompressed content (a layer's diff ID). */
export async function uncompressedDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  const stream = createReadStream(path).pipe(createGunzip());
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** Unpacks a named image of the store with umoci (an independent reader) and returns its rootfs. */
export async function umociUnpack(layout: string, name: string, bundle: string): Promise<string> {
  await rm(bundle, { recursive: true, force: true });
  await execFileAsync('umoci', ['unpack', '--image', `${layout}:${name}`, bundle], { maxBuffer: 16 << 20 });
  return join(bundle, 'rootfs');
}

/** What must survive a failed command unchanged. */
export interface StoreState {
  index: string;
  blobs: string[];
}

export async function storeState(root: string): Promise<StoreState> {
  return {
    index: await readFile(join(root, 'index.json'), 'utf8'),
    blobs: (await readdir(join(root, 'blobs', 'sha256'))).sort(),
  };
}

/** index.json and blobs as before; nothing mounted under the root; no containers, writable snapshots or build dirs left. */
export async function assertStoreIntact(root: string, before: StoreState): Promise<void> {
  const after = await storeState(root);
  assert.equal(after.index, before.index, 'index.json changed');
  assert.deepEqual(after.blobs, before.blobs, 'blobs changed');
  await assertNothingLeft(root);
}

/** `temporaryFiles` false: a killed build's temporary directory may remain (prune removes it). */
export async function assertNothingLeft(root: string, temporaryFiles = true): Promise<void> {
  assert.deepEqual(await mountsUnder(root), [], 'mounts left under the store');
  assert.deepEqual(await runcContainers(root), [], 'runc containers left');
  for (const driver of await readdir(join(root, 'snapshots')).catch(() => [] as string[])) {
    for (const sub of ['active', 'mnt']) {
      assert.deepEqual(await readdir(join(root, 'snapshots', driver, sub)).catch(() => []), [], `snapshots/${driver}/${sub} is not empty`);
    }
  }
  if (!temporaryFiles) return;
  const tmp = (await readdir(join(root, 'tmp')).catch(() => [] as string[])).filter((name) => name !== 'empty');
  assert.deepEqual(tmp, [], 'temporary files left in the store');
}

export async function mountsUnder(root: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && point.startsWith(`${root}/`));
}

export async function runcContainers(root: string): Promise<string[]> {
  const { stdout } = await execFileAsync('runc', ['--root', join(root, 'runtime'), 'list', '-q']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean);
}

/** Parses `gantry inspect NAME`. */
export async function inspectImage(root: string, name: string): Promise<InspectResult> {
  const result = await gantry(root, ['inspect', name]);
  assert.equal(result.code, 0, result.stderr);
  const [image] = JSON.parse(result.stdout) as InspectResult[];
  assert.ok(image);
  return image;
}

export interface InspectResult {
  Id: string;
  Digest: string;
  RepoTags: string[];
  Created: string;
  Author?: string;
  Architecture: string;
  Os: string;
  Layers: string[];
  Config: Record<string, unknown>;
  History: HistoryItem[];
}

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'link';
  content?: string;
  linkname?: string;
}

/** A tar archive built with tar-stream (an independent writer), entries dated `mtime` (seconds). */
export async function tarOf(mtime: number, entries: TarEntry[]): Promise<Buffer> {
  const archive = pack();
  const chunks: Buffer[] = [];
  archive.on('data', (chunk) => chunks.push(chunk as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  for (const e of entries) {
    archive.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644, mtime: new Date(mtime * 1000) }, e.content ?? '');
  }
  archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}
