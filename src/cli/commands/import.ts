import type { Command } from 'commander';
import { rfc3339 } from '../../util/time.js';
import { createReadStream } from 'node:fs';
import { planBuild } from '../../frontend/index.js';
import { decompressLayer } from '../../image/index.js';
import { ingestLayer, unpackImage } from '../../solver/layers.js';
import { hostPlatform, parsePlatformFlag } from '../../image/platform.js';
import { normalizeReference } from '../../image/reference.js';
import type { ContainerConfig, Platform } from '../../image/types.js';
import { commitImage } from '../../solver/image-commit.js';
import { GantryError, isGantryError } from '../../util/errors.js';
import { collect, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('import')
    .description('create an image from a root filesystem tarball (like docker import)')
    .argument('<file>', 'tar archive (plain, gzip, bzip2, xz or zstd), or - for standard input')
    .argument('[name]', 'name[:tag] for the image')
    .option('-c, --change <instruction>', 'Dockerfile instruction applied to the config (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL, ONBUILD)', collect, [])
    .option('-m, --message <text>', 'history comment')
    .option('--platform <platform>', 'platform of the content (default: this machine)')
    .action(async (file: string, name: string | undefined, opts: { change: string[]; message?: string; platform?: string }) => {
      const store = await ctx.openStore();
      const platform = opts.platform ? parsePlatformFlag(opts.platform) : hostPlatform();
      const config = await configFromChanges(opts.change, platform);
      const source = file === '-' ? process.stdin : createReadStream(file);
      source.on('error', () => undefined);
      const layer = await ingestLayer(store, decompressLayer(source, file));
      // SOURCE_DATE_EPOCH makes the import reproducible: the same tarball gives the same image digest.
      const epoch = process.env.SOURCE_DATE_EPOCH;
      const created = rfc3339(epoch && /^\d+$/.test(epoch) ? Number(epoch) * 1000 : Date.now());
      const image = await commitImage(store, {
        platform,
        config,
        layers: [layer],
        history: [{ created, created_by: 'gantry import', comment: opts.message ?? `Imported from ${file}` }],
        created,
      });
      // As docker import: the layer is applied before the image is named, so a tar that cannot be
      // (entries leaving the root, a corrupt header) names nothing.
      try {
        await unpackImage(store, image, `imported ${file}`);
      } catch (err) {
        if (!isGantryError(err)) throw err;
        throw new GantryError(`${file} cannot be imported: ${err.message}`, { hint: err.hint ?? 'the file is not a root filesystem tar that can be applied; nothing was named', cause: err });
      }
      if (name) await store.refs.set(normalizeReference(name), image.descriptor);
      else await store.refs.keepUntagged(image.descriptor);
      ctx.out(`${image.descriptor.digest}\n`);
    });
}

/** --change instructions are applied by the Dockerfile frontend to an empty image, as in a one-stage build. */
async function configFromChanges(changes: string[], platform: Platform): Promise<ContainerConfig> {
  if (changes.length === 0) return {};
  for (const change of changes) {
    const instruction = change.trim().split(/\s+/)[0].toUpperCase();
    if (!['CMD', 'ENTRYPOINT', 'ENV', 'WORKDIR', 'USER', 'LABEL', 'EXPOSE', 'VOLUME', 'STOPSIGNAL', 'ONBUILD'].includes(instruction)) {
      throw new GantryError(`--change "${change}": ${instruction} cannot be applied by import`, {
        hint: 'import accepts CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL and ONBUILD',
      });
    }
  }
  const plan = await planBuild(`FROM scratch\n${changes.join('\n')}\n`, {
    file: '--change',
    buildArgs: {},
    targetPlatform: platform,
    buildPlatform: hostPlatform(),
    resolveImage: () => Promise.reject(new Error('import changes never name a base image')),
  });
  const stage = plan.stages[plan.stages.length - 1];
  const last = stage.steps[stage.steps.length - 1];
  return last?.config ?? stage.baseConfig;
}
