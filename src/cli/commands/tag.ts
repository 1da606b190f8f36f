import type { Command } from 'commander';
import { normalizeReference } from '../../image/reference.js';
import { findLocalImage } from '../../store/images.js';
import type { CliContext } from '../context.js';
import { noSuchImage } from './inspect.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('tag')
    .description('give an image another name')
    .argument('<source>', 'existing image name or digest')
    .argument('<target>', 'new name[:tag]')
    .action(async (source: string, target: string) => {
      const store = await ctx.openStore();
      const image = await findLocalImage(store, source);
      if (!image) throw noSuchImage(source);
      const root = image.index ?? image.descriptor;
      await store.refs.set(normalizeReference(target), root);
    });
}
