import type { Command } from 'commander';
import { listImages } from '../../app/index.js';
import { formatTable, humanAge, humanSize, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('images')
    .description('list images in the store')
    .option('-q, --quiet', 'only image IDs')
    .option('--format <format>', 'table (default) or json')
    .action(async (opts: { quiet?: boolean; format?: string }) => {
      const rows = await listImages(ctx.store());
      if (opts.quiet) {
        ctx.out([...new Set(rows.map((r) => r.id))].map((id) => `${id}\n`).join(''));
      } else if (opts.format === 'json') {
        ctx.out(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
      } else {
        ctx.out(
          formatTable(
            ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'PLATFORMS'],
            rows.map((r) => [r.repository, r.tag, r.id, humanAge(r.created), humanSize(r.size), r.platforms.join(',')]),
          ),
        );
      }
    });
}
