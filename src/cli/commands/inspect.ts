import type { Command } from 'commander';
import { formatPlatform, parsePlatformFlag } from '../../image/platform.js';
import { familiarReference, parseReference } from '../../image/reference.js';
import { findLocalImage, type StoredImage } from '../../store/images.js';
import { GantryError } from '../../util/errors.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('show an image as JSON (Digest is the manifest digest)')
    .argument('<image...>', 'image names or digests')
    .option('--platform <platform>', 'which platform of a multi-platform image')
    .action(async (names: string[], opts: { platform?: string }) => {
      const store = await ctx.openStore();
      const platform = opts.platform ? parsePlatformFlag(opts.platform) : undefined;
      const result = [];
      for (const name of names) {
        const image = await findLocalImage(store, name, platform);
        if (!image) throw noSuchImage(name);
        result.push(await describe(image, await namesFor(store, image)));
      }
      ctx.out(JSON.stringify(result, null, 2) + '\n');
    });
}

export function noSuchImage(name: string): GantryError {
  return new GantryError(`no such image: ${name}`, { hint: 'list local images with `gantry images`; build or pull it first' });
}

async function namesFor(store: Awaited<ReturnType<CliContext['openStore']>>, image: StoredImage): Promise<string[]> {
  const root = image.index?.digest ?? image.descriptor.digest;
  return (await store.refs.list()).filter((e) => e.name && e.descriptor.digest === root).map((e) => familiarReference(parseReference(e.name as string)));
}

async function describe(image: StoredImage, repoTags: string[]) {
  const { config, manifest } = image;
  return {
    Id: manifest.config.digest,
    Digest: image.descriptor.digest,
    IndexDigest: image.index?.digest,
    RepoTags: repoTags,
    Created: config.created,
    Author: config.author,
    Architecture: config.architecture,
    Os: config.os,
    Variant: config.variant,
    Platform: formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant }),
    Size: manifest.layers.reduce((sum, l) => sum + l.size, 0),
    Layers: config.rootfs.diff_ids,
    LayerBlobs: manifest.layers.map((l) => ({ Digest: l.digest, Size: l.size, MediaType: l.mediaType })),
    Config: config.config ?? {},
    History: config.history ?? [],
    Annotations: manifest.annotations,
  };
}
