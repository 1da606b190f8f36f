/** Tiny images made directly in a store, and helpers to compare stores, for the archive tests. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { compressLayer, createLayerTar, type LayerEntry } from '../../src/image/index.js';
import { MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../../src/image/types.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/gantry.js';

export const run = promisify(execFile);

class Collect extends Writable {
  private readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export async function layerTarBytes(files: Record<string, string>): Promise<Buffer> {
  const entries: LayerEntry[] = [];
  const dirs = new Set<string>();
  for (const path of Object.keys(files).sort()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        entries.push({ path: dir, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1700000000 });
      }
    }
    const data = Buffer.from(files[path]!);
    entries.push({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 1700000000, source: { kind: 'buffer', data } });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of createLayerTar(entries)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function nameImage(store: Store, name: string, descriptor: Descriptor): Promise<void> {
  await store.refs.set(name, descriptor);
}

export interface TestLayer {
  tar: Buffer;
  diffId: string;
  descriptor: Descriptor;
}

/** A gzip layer with `files`, stored in the store. */
export async function storeLayer(store: Store, files: Record<string, string>): Promise<TestLayer> {
  const tar = await layerTarBytes(files);
  const out = new Collect();
  const result = await compressLayer([tar], out);
  await store.content.writeBytes(out.bytes, { digest: result.digest, size: result.size });
  return { tar, diffId: result.diffId, descriptor: { mediaType: result.mediaType, digest: result.digest, size: result.size } };
}

export function testConfig(platform: Platform, diffIds: string[]): ImageConfig {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['/bin/hello'], Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: diffIds as ImageConfig['rootfs']['diff_ids'] },
    history: diffIds.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
  };
}

/** A two-layer single-platform image; named when `name` is given. Returns its manifest descriptor. */
export async function buildImage(store: Store, options: { name?: string; platform?: Platform; marker?: string } = {}): Promise<Descriptor> {
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const marker = options.marker ?? `${platform.os}/${platform.architecture}`;
  const base = await storeLayer(store, { 'etc/os-release': 'NAME=test\n', 'bin/hello': '#!/bin/sh\necho hello\n' });
  const top = await storeLayer(store, { 'app/marker': `${marker}\n` });
  const configBlob = await store.content.writeJson(testConfig(platform, [base.diffId, top.diffId]));
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size },
    layers: [base.descriptor, top.descriptor],
  };
  const manifestBlob = await store.content.writeJson(manifest);
  const descriptor: Descriptor = { mediaType: MediaType.ociManifest, digest: manifestBlob.digest, size: manifestBlob.size, platform };
  if (options.name) await nameImage(store, options.name, descriptor);
  return descriptor;
}

/** A linux/amd64 + linux/arm64 index. */
export async function buildIndex(store: Store, name?: string): Promise<Descriptor> {
  const amd64 = await buildImage(store, { platform: { os: 'linux', architecture: 'amd64' } });
  const arm64 = await buildImage(store, { platform: { os: 'linux', architecture: 'arm64' } });
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [amd64, arm64] };
  const blob = await store.content.writeJson(index);
  const descriptor: Descriptor = { mediaType: MediaType.ociIndex, digest: blob.digest, size: blob.size };
  if (name) await nameImage(store, name, descriptor);
  return descriptor;
}

export async function newStore(prefix: string): Promise<{ store: Store; dir: string; cleanup(): Promise<void> }> {
  const dir = await tempDir(prefix);
  const store = await Store.open(`${dir.path}/store`);
  return { store, dir: dir.path, cleanup: dir.cleanup };
}

/** What a load may change: index.json and the set of blobs. */
export async function storeState(store: Store): Promise<{ index: string; blobs: string[] }> {
  let index = '';
  try {
    index = await readFile(store.refs.indexPath, 'utf8');
  } catch {
    index = '<none>';
  }
  return { index, blobs: (await store.content.list()).sort() };
}

/** Image names and root digests of a store, sorted. */
export async function namedRoots(store: Store): Promise<Array<[string, string]>> {
  return (await store.refs.list())
    .map((entry): [string, string] => [entry.name ?? '<none>', entry.descriptor.digest])
    .sort((a, b) => a[0].localeCompare(b[0]));
}
