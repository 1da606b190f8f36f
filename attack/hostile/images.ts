/**
 * Image archives to load, built from a model (layers, config, manifest, optional index, index.json or
 * manifest.json) with at most one level mutated: the levels above a mutated document are linked to its
 * new bytes (so the damage reaches the parser), or now and then keep the old descriptor (so a digest
 * or size lies). Written as an OCI layout or a docker archive, as a directory or a (compressed) tar,
 * with hostile links in the archive itself when asked.
 */
import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Random } from '../lib.js';
import type { EscapeTargets } from './layers.js';
import { mutateDocument, mutateText, type Json } from './mutate.js';
import { COMPRESSIONS, Type, compress, compressionSuffix, tarBytes, type Compression, type RawEntry } from './tar.js';

export const OCI = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;
const DOCKER = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  list: 'application/vnd.docker.distribution.manifest.list.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface Blob {
  mediaType: string;
  bytes: Buffer;
}

export function descriptor(blob: Blob, extra: Record<string, Json> = {}): { [key: string]: Json } {
  return { mediaType: blob.mediaType, digest: sha256(blob.bytes), size: blob.bytes.length, ...extra };
}

export interface LayerInput {
  /** The uncompressed tar (its digest is the diff ID). */
  tar: Buffer;
  /** The blob as stored, when it is not the tar compressed here (a prepared bomb). */
  blob?: Buffer;
  compression?: 'gzip' | 'zstd' | 'none';
  /** The diff ID when it is known without hashing the tar (a prepared bomb). */
  diffId?: string;
}

/** Levels a mutation can hit. */
export type Level = 'config' | 'manifest' | 'index' | 'index.json' | 'oci-layout' | 'manifest.json' | 'layer' | 'diff-id' | 'links' | 'none';

export interface ImageSpec {
  format: 'oci' | 'docker';
  layers: LayerInput[];
  /** An index of two platform images (OCI only). */
  multiPlatform?: boolean;
  dockerMediaTypes?: boolean;
  /** The name in index.json / manifest.json. */
  name: string;
  mutate?: Level;
}

/** A file tree to write as a directory or a tar: content, or a link. */
export type ArchiveNode = { content: Buffer } | { symlink: string } | { hardlink: string };

export interface BuiltArchive {
  label: string;
  nodes: Map<string, ArchiveNode>;
  /** The blobs it holds, by digest (for pushing the same image to a registry). */
  blobs: Map<string, Blob>;
  /** The top document (manifest or index) as a tag in a registry would name it: mutated, never a stale copy. */
  top: Blob;
}

function json(value: Json): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function layerBlob(layer: LayerInput, docker: boolean): Blob & { diffId: string } {
  const how = layer.compression ?? 'gzip';
  const bytes = layer.blob ?? compress(layer.tar, how);
  const mediaType = how === 'zstd' ? OCI.layerZstd : how === 'none' ? OCI.layer : docker ? DOCKER.layerGzip : OCI.layerGzip;
  return { mediaType, bytes, diffId: layer.diffId ?? sha256(layer.tar) };
}

/**
 * Builds the archive of `spec`, mutating `spec.mutate` with `rng`. The label says what was done.
 */
export function buildArchive(rng: Random, spec: ImageSpec, targets: EscapeTargets): BuiltArchive {
  const docker = spec.dockerMediaTypes === true;
  const blobs = new Map<string, Blob>();
  const labels: string[] = [];
  const put = (blob: Blob): void => void blobs.set(sha256(blob.bytes), blob);
  const otherDigests = (): string[] => [...blobs.keys()];
  /** Applies the mutation when `level` is the one chosen; returns the bytes and, for a lie, the descriptor of the unmutated ones. */
  const level = (name: Level, value: Json, mediaType: string): { blob: Blob; linked: Blob } => {
    const honest: Blob = { mediaType, bytes: json(value) };
    if (spec.mutate !== name) return { blob: honest, linked: honest };
    const mutation = mutateDocument(rng, value, otherDigests());
    labels.push(`${name}: ${mutation.label}`);
    const blob = { mediaType, bytes: mutation.bytes };
    if (rng.next() < 0.15) {
      labels.push('(parent keeps the old digest)');
      return { blob, linked: honest };
    }
    return { blob, linked: blob };
  };

  const layers = spec.layers.map((layer) => layerBlob(layer, docker));
  if (spec.mutate === 'layer') {
    const victim = rng.pick(layers);
    const choice = rng.int(4);
    if (choice === 0) {
      victim.bytes = Buffer.from(victim.bytes);
      victim.bytes[rng.int(victim.bytes.length)] ^= 0xff;
      labels.push('layer: a byte flipped (digest no longer matches)');
    } else if (choice === 1) {
      victim.mediaType = rng.pick([OCI.layerZstd, OCI.layer, 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'application/x-evil', DOCKER.config]);
      labels.push(`layer: media type ${victim.mediaType}`);
    } else if (choice === 2) {
      victim.bytes = mutateText(rng, victim.bytes).bytes;
      victim.diffId = sha256(victim.bytes);
      labels.push('layer: not a compressed tar (digest and diff ID follow it)');
    } else {
      victim.bytes = victim.bytes.subarray(0, rng.int(victim.bytes.length));
      labels.push('layer: cut short (digest follows)');
    }
  }
  for (const layer of layers) put(layer);
  const diffIds: Json[] = layers.map((layer) => layer.diffId);
  if (spec.mutate === 'diff-id') {
    const i = rng.int(diffIds.length);
    diffIds[i] = rng.pick([sha256(Buffer.from('other')), `sha256:${'A'.repeat(64)}`, 'sha256:../../etc/passwd', sha256(layers[i]!.bytes)]);
    if (rng.next() < 0.3) diffIds.push(sha256(Buffer.from('extra')));
    labels.push(`diff IDs: ${JSON.stringify(diffIds).slice(0, 60)}`);
  }

  const platformImage = (architecture: string): { blob: Blob; linked: Blob } => {
    const config: Json = {
      architecture,
      os: 'linux',
      created: '2024-01-01T00:00:00Z',
      config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/bin:/bin'], WorkingDir: '/', Labels: { hostile: 'yes' } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: layers.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    };
    const configLevel = level('config', config, docker ? DOCKER.config : OCI.config);
    put(configLevel.blob);
    const manifest: Json = {
      schemaVersion: 2,
      mediaType: docker ? DOCKER.manifest : OCI.manifest,
      config: descriptor(configLevel.linked),
      layers: layers.map((layer) => descriptor(layer)),
    };
    const manifestLevel = level('manifest', manifest, docker ? DOCKER.manifest : OCI.manifest);
    put(manifestLevel.blob);
    return manifestLevel;
  };

  const amd64 = platformImage('amd64');
  let root: Blob = amd64.linked;
  let top: Blob = amd64.blob;
  if (spec.multiPlatform && spec.format === 'oci') {
    const arm64 = platformImage('arm64');
    const index: Json = {
      schemaVersion: 2,
      mediaType: docker ? DOCKER.list : OCI.index,
      manifests: [descriptor(amd64.linked, { platform: { os: 'linux', architecture: 'amd64' } }), descriptor(arm64.linked, { platform: { os: 'linux', architecture: 'arm64' } })],
    };
    const indexLevel = level('index', index, docker ? DOCKER.list : OCI.index);
    put(indexLevel.blob);
    root = indexLevel.linked;
    top = indexLevel.blob;
  }
  const rootDescriptor = { mediaType: root.mediaType, digest: sha256(root.bytes), size: root.bytes.length };
  const nodes = new Map<string, ArchiveNode>();
  if (spec.format === 'oci') {
    for (const [digest, blob] of blobs) nodes.set(`blobs/sha256/${digest.slice(7)}`, { content: blob.bytes });
    const layout = level('oci-layout', { imageLayoutVersion: '1.0.0' }, 'application/json');
    nodes.set('oci-layout', { content: layout.blob.bytes });
    const index = level(
      'index.json',
      {
        schemaVersion: 2,
        mediaType: OCI.index,
        manifests: [descriptor(root, { annotations: { 'org.opencontainers.image.ref.name': spec.name, 'io.containerd.image.name': `docker.io/library/${spec.name}` } })],
      },
      OCI.index,
    );
    nodes.set('index.json', { content: index.blob.bytes });
  } else {
    const manifest = JSON.parse(blobs.get(rootDescriptor.digest)?.bytes.toString('utf8') ?? '{}') as { config?: { digest?: unknown } };
    const configDigest = typeof manifest.config?.digest === 'string' ? manifest.config.digest : sha256(Buffer.alloc(0));
    const configBlob = blobs.get(configDigest);
    const configPath = `${configDigest.slice(7, 71)}.json`;
    if (configBlob) nodes.set(configPath, { content: configBlob.bytes });
    const layerPaths = layers.map((layer, i) => {
      const path = rng.next() < 0.5 ? `${i}${sha256(layer.bytes).slice(7, 19)}/layer.tar` : `blobs/sha256/${sha256(layer.bytes).slice(7)}`;
      nodes.set(path, { content: layer.bytes });
      return path;
    });
    const items = level('manifest.json', [{ Config: configPath, RepoTags: [spec.name], Layers: layerPaths }], 'application/json');
    nodes.set('manifest.json', { content: items.blob.bytes });
  }
  if (spec.mutate === 'links') labels.push(addHostileLinks(rng, nodes, targets));
  return { label: labels.join('; ') || 'unmutated', nodes, blobs, top };
}

/** Replaces or adds archive members with links that lead out of the archive, in loops, or very far. */
function addHostileLinks(rng: Random, nodes: Map<string, ArchiveNode>, targets: EscapeTargets): string {
  const names = [...nodes.keys()];
  const victim = rng.pick([...names, 'blobs', 'blobs/sha256']);
  const climb = '../'.repeat(24);
  const target = rng.pick([
    `${targets.sentinel}/file`, targets.sentinel, '/etc/passwd', `${climb}etc/passwd`, `${climb}${targets.sentinel.slice(1)}/file`, victim, `${victim}/x`,
    '/proc/self/environ', 'a/'.repeat(rng.pick([100, 5000, 200_000])),
  ]);
  const hard = rng.next() < 0.3;
  if (victim === 'blobs' || victim === 'blobs/sha256') {
    for (const name of names) if (name.startsWith(`${victim}/`)) nodes.delete(name);
  }
  nodes.set(victim, hard ? { hardlink: target } : { symlink: target });
  return `${victim} is a ${hard ? 'hard' : 'symbolic'} link to ${target.replace(targets.sentinel, 'SENTINEL').slice(0, 50)}${target.length > 50 ? `… (${target.length} bytes)` : ''}`;
}

export type Container = 'directory' | Compression;

/** Writes the archive as a directory (links as links) or as a tar with the given compression; returns its path. */
export async function writeArchive(nodes: Map<string, ArchiveNode>, container: Container, base: string): Promise<string> {
  if (container === 'directory') {
    await mkdir(base, { recursive: true });
    for (const [name, node] of nodes) {
      const path = join(base, name);
      await mkdir(dirname(path), { recursive: true });
      // A link target too long for the file system is written as a regular file naming it.
      if ('content' in node) await writeFile(path, node.content);
      else await symlink('symlink' in node ? node.symlink : node.hardlink, path).catch(() => writeFile(path, 'symlink' in node ? node.symlink : node.hardlink));
    }
    return base;
  }
  const entries: RawEntry[] = [];
  for (const [name, node] of nodes) {
    if ('content' in node) entries.push({ name, type: Type.file, data: node.content, gnuLong: Buffer.byteLength(name) > 100 });
    else {
      const linkname = 'symlink' in node ? node.symlink : node.hardlink;
      entries.push({ name, type: 'symlink' in node ? Type.symlink : Type.hardlink, linkname, pax: Buffer.byteLength(linkname) > 100 ? [['linkpath', linkname]] : undefined });
    }
  }
  const path = `${base}.tar${compressionSuffix(container)}`;
  await writeFile(path, compress(tarBytes(entries), container));
  return path;
}

export function pickContainer(rng: Random): Container {
  return rng.next() < 0.35 ? 'directory' : rng.next() < 0.5 ? 'none' : rng.pick(COMPRESSIONS);
}
