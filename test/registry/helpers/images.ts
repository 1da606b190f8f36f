/** Tiny test images built in the store: gzipped tar layers, a config, a manifest, an optional index. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { MediaType, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type Platform } from '../../../src/image/types.js';
import { Store } from '../../../src/store/store.js';
import { sha256 } from '../../../src/util/digest.js';

export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) {
    pack.entry({ name, mode: 0o644, mtime: new Date(0) }, typeof content === 'string' ? Buffer.from(content) : content);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export interface TestImageSpec {
  platform?: Platform;
  /** Each entry is one layer: its files. */
  layers: Array<Record<string, string | Buffer>>;
  mediaTypes?: 'oci' | 'docker';
}

/** Writes an image into the store and returns its manifest descriptor (with platform). */
export async function writeImage(store: Store, spec: TestImageSpec): Promise<Descriptor> {
  const docker = spec.mediaTypes === 'docker';
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layers: Descriptor[] = [];
  const diffIds: `sha256:${string}`[] = [];
  for (const files of spec.layers) {
    const tarBytes = await tarOf(files);
    diffIds.push(sha256(tarBytes));
    const gz = gzipSync(tarBytes);
    const info = await store.content.writeBytes(gz);
    layers.push({ mediaType: docker ? MediaType.dockerLayerGzip : MediaType.ociLayerGzip, digest: info.digest, size: info.size });
  }
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created_by: 'test layer' })),
  };
  const configInfo = await store.content.writeJson(config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: { mediaType: docker ? MediaType.dockerConfig : MediaType.ociConfig, digest: configInfo.digest, size: configInfo.size },
    layers,
  };
  const info = await store.content.writeJson(manifest);
  return { mediaType: manifest.mediaType as string, digest: info.digest, size: info.size, platform };
}

export async function writeIndex(store: Store, children: Descriptor[]): Promise<Descriptor> {
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: children };
  const info = await store.content.writeJson(index);
  return { mediaType: MediaType.ociIndex, digest: info.digest, size: info.size };
}

/** Incompressible bytes, for layers that must stay large after gzip. */
export function noise(bytes: number): Buffer {
  return randomBytes(bytes);
}

export interface TempStores {
  open(): Promise<Store>;
  dir(): Promise<string>;
  cleanup(): Promise<void>;
}

/** Temp stores and dirs for one test file, removed together. */
export function tempStores(): TempStores {
  const dirs: string[] = [];
  const dir = async () => {
    const path = await mkdtemp(join(tmpdir(), 'gantry-registry-test-'));
    dirs.push(path);
    return path;
  };
  return {
    dir,
    open: async () => Store.open(await dir()),
    cleanup: async () => {
      await Promise.all(dirs.map((path) => rm(path, { recursive: true, force: true })));
    },
  };
}

/** Blob files and leftover ingest files in a store. */
export async function storeContents(store: Store): Promise<{ blobs: string[]; ingest: string[] }> {
  const list = async (path: string) => readdir(path).catch(() => [] as string[]);
  return { blobs: await list(store.content.blobsDir), ingest: await list(store.content.ingestDir) };
}
