/**
 * Build outputs (`--output`): the image in the store (always, named by -t), an OCI layout or docker
 * archive of it, or the final stage's filesystem as a directory (type=local) or a tar (type=tar).
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { writeImageOutput } from './archives.js';
import type { Descriptor } from '../image/index.js';
import type { Snapshotter } from '../snapshot/index.js';
import type { Store, LayerRecord } from '../store/index.js';
import { copyTreePreserving, GantryError, pathExists, tempSibling, runTool, parseKeyValueList } from '../util/index.js';
import type { LayerStore } from '../solver/index.js';

export type OutputSpec =
  | { type: 'image' }
  | { type: 'oci' | 'docker'; dest: string }
  | { type: 'local' | 'tar'; dest: string };

/** Parses `type=oci,dest=out.tar`, `type=local,dest=dir`, or a bare path (type=local). */
export function parseOutputSpec(text: string): OutputSpec {
  if (!text.includes('=')) return { type: 'local', dest: text };
  const fields = parseKeyValueList(text, '--output', { known: ['type', 'dest'], example: 'type=oci,dest=image.tar' });
  const type = fields.get('type') ?? 'local';
  const dest = fields.get('dest');
  if (type === 'image') return { type: 'image' };
  if (type === 'oci' || type === 'docker' || type === 'local' || type === 'tar') {
    if (!dest) throw new GantryError(`--output type=${type} needs dest=PATH`);
    return { type, dest };
  }
  throw new GantryError(`--output type=${type} is not supported`, { hint: 'types: image, oci, docker, local, tar' });
}

export interface OutputContext {
  store: Store;
  root: Descriptor;
  names: string[];
  layers: readonly LayerRecord[];
  snapshotter(): Promise<Snapshotter>;
  layerStore: LayerStore;
}

export async function writeOutput(spec: OutputSpec, ctx: OutputContext): Promise<void> {
  switch (spec.type) {
    case 'image':
      return;
    case 'oci':
    case 'docker':
      // resolve() drops a trailing slash, which is what asks for an OCI layout directory.
      await writeImageOutput(ctx.store, ctx.root, { type: spec.type, dest: resolve(spec.dest) + (spec.dest.endsWith('/') ? '/' : ''), names: ctx.names });
      return;
    case 'local':
    case 'tar':
      await writeFilesystem(spec.type, resolve(spec.dest), ctx);
  }
}

async function writeFilesystem(type: 'local' | 'tar', dest: string, ctx: OutputContext): Promise<void> {
  const snapshotter = await ctx.snapshotter();
  const view = await snapshotter.view(await ctx.layerStore.materialize(snapshotter, ctx.layers));
  try {
    const rootfs = await view.mount();
    if (type === 'local' && (await pathExists(dest))) {
      // Written into as BuildKit does: files the image has replace those of the same name, others stay.
      await copyTreePreserving(rootfs, dest, `writing the filesystem to ${dest}`);
      return;
    }
    // A new directory, like a tar, is written beside its name and appears under it only once complete.
    await mkdir(dirname(dest), { recursive: true });
    const tmp = tempSibling(dest);
    try {
      if (type === 'local') await copyTreePreserving(rootfs, tmp, `writing the filesystem to ${dest}`);
      else await tarDirectory(rootfs, tmp);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  } finally {
    await view.release();
  }
}

async function tarDirectory(dir: string, file: string): Promise<void> {
  await runTool('tar', ['--sort=name', '--numeric-owner', '--xattrs', '-C', dir, '-cf', file, '.'], 'writing the filesystem tar', { package: 'tar' });
}
