import type { Command } from 'commander';
import { removeImages } from '../../app/index.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('rmi')
    .description('remove image names; content is freed by `gantry prune`')
    .argument('<image...>', 'image names or digests')
    .option('-f, --force', 'remove every name of an image given by digest')
    .action(async (names: string[], opts: { force?: boolean }) => {
      for (const removal of await removeImages(ctx.store(), names, opts.force ?? false)) {
        for (const name of removal.untagged) ctx.out(`Untagged: ${name}\n`);
        if (removal.deleted) ctx.out(`Deleted: ${removal.deleted}\n`);
      }
    });
}
