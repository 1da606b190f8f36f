import type { Command } from 'commander';
import { inspectImages } from '../../app/index.js';
import { parsePlatformFlag } from '../../image/index.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('show an image as JSON (Digest is the manifest digest)')
    .argument('<image...>', 'image names or digests')
    .option('--platform <platform>', 'which platform of a multi-platform image')
    .action(async (names: string[], opts: { platform?: string }) => {
      const details = await inspectImages(ctx.store(), names, opts.platform ? parsePlatformFlag(opts.platform) : undefined);
      ctx.out(JSON.stringify(details, null, 2) + '\n');
    });
}
