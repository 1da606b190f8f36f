import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { importImage } from '../../app/index.js';
import { parsePlatformFlag } from '../../image/index.js';
import { GantryError } from '../../util/index.js';
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
      const source = file === '-' ? process.stdin : createReadStream(file);
      source.on('error', () => undefined);
      // SOURCE_DATE_EPOCH makes the import reproducible: the same tarball gives the same image digest.
      const epoch = process.env.SOURCE_DATE_EPOCH;
      if (epoch !== undefined && epoch !== '' && !/^\d+$/.test(epoch)) throw new GantryError(`SOURCE_DATE_EPOCH "${epoch}" is not a number of seconds`);
      const descriptor = await importImage(ctx.store(), {
        source,
        sourceName: file,
        name,
        changes: opts.change,
        message: opts.message,
        platform: opts.platform ? parsePlatformFlag(opts.platform) : undefined,
        sourceDateEpoch: epoch ? Number(epoch) : undefined,
      });
      ctx.out(`${descriptor.digest}\n`);
    });
}
