import type { Command } from 'commander';
import { findLocalImage } from '../../store/images.js';
import { formatTable, humanAge, humanSize, type CliContext } from '../context.js';
import { noSuchImage } from './inspect.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('history')
    .description('show the history of an image, newest first (like docker history)')
    .argument('<image>')
    .option('--no-trunc', 'do not truncate output')
    .action(async (name: string, opts: { trunc: boolean }) => {
      const store = await ctx.openStore();
      const image = await findLocalImage(store, name);
      if (!image) throw noSuchImage(name);
      const history = image.config.history ?? [];
      const layers = [...image.manifest.layers];
      const rows = history.map((h) => {
        const layer = h.empty_layer ? undefined : layers.shift();
        return { h, size: layer?.size ?? 0 };
      });
      rows.reverse();
      const truncate = (text: string) => (opts.trunc && text.length > 45 ? `${text.slice(0, 44)}…` : text);
      ctx.out(
        formatTable(
          ['CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
          rows.map(({ h, size }) => [humanAge(h.created), truncate(h.created_by ?? ''), humanSize(size), h.comment ?? '']),
        ),
      );
    });
}
