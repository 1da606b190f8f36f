import type { Command } from 'commander';
import { imageHistory } from '../../app/index.js';
import { formatTable, humanAge, humanSize, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('history')
    .description('show the history of an image, newest first (like docker history)')
    .argument('<image>')
    .option('--no-trunc', 'do not truncate output')
    .action(async (name: string, opts: { trunc: boolean }) => {
      const rows = await imageHistory(ctx.store(), name);
      const truncate = (text: string) => (opts.trunc && text.length > 45 ? `${text.slice(0, 44)}…` : text);
      ctx.out(formatTable(['CREATED', 'CREATED BY', 'SIZE', 'COMMENT'], rows.map((r) => [humanAge(r.created), truncate(r.createdBy), humanSize(r.size), r.comment])));
    });
}
