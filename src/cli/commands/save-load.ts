/** save and load: images of the store to and from archives (docker save/load format, or OCI image layouts). */
import type { Command } from 'commander';
import { loadFromArchive, saveToArchive } from '../../app/index.js';
import { familiarReference, parsePlatformFlag, parseReference } from '../../image/index.js';
import { GantryError } from '../../util/index.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('save')
    .description('write images to an archive (docker format by default, loadable by docker load)')
    .argument('<image...>', 'image names or digests')
    .requiredOption('-o, --output <path>', 'archive file to write (for --format oci, a directory when it ends with / or exists)')
    .option('--format <format>', 'docker or oci', 'docker')
    .option('--platform <platform>', 'the platform to keep from multi-platform images')
    .action(async (names: string[], opts: { output: string; format: string; platform?: string }) => {
      if (opts.format !== 'docker' && opts.format !== 'oci') {
        throw new GantryError(`--format ${opts.format} is not an archive format`, { hint: 'use docker or oci' });
      }
      await saveToArchive(ctx.store(), names, { format: opts.format, output: opts.output, platform: opts.platform ? parsePlatformFlag(opts.platform) : undefined });
    });

  program
    .command('load')
    .description('load the images of an archive (docker save archive or OCI image layout; tar, compressed tar or directory)')
    .argument('[file]', 'the archive (or use -i)')
    .option('-i, --input <file>', 'the archive')
    .option('-q, --quiet', 'print nothing')
    .action(async (file: string | undefined, opts: { input?: string; quiet?: boolean }) => {
      const path = file ?? opts.input;
      if (!path) throw new GantryError('load needs an archive', { hint: 'gantry load image.tar (or -i image.tar)' });
      const result = await loadFromArchive(ctx.store(), path, (message) => ctx.err(`warning: ${message}\n`));
      for (const warning of result.warnings) ctx.err(`warning: ${warning}\n`);
      if (opts.quiet) return;
      for (const image of result.images) {
        if (image.names.length === 0) ctx.out(`Loaded image ID: ${image.descriptor.digest}\n`);
        for (const name of image.names) ctx.out(`Loaded image: ${familiarReference(parseReference(name))}\n`);
      }
    });
}
