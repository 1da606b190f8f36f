import type { Command } from 'commander';
import { tagImage } from '../../app/index.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('tag')
    .description('give an image another name')
    .argument('<source>', 'existing image name or digest')
    .argument('<target>', 'new name[:tag]')
    .action(async (source: string, target: string) => {
      await tagImage(ctx.store(), source, target);
    });
}
