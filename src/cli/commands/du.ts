import type { Command } from 'commander';
import { diskUsage } from '../../app/index.js';
import { formatTable, humanSize, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('du')
    .description('show disk usage of the store')
    .action(async () => {
      const usage = await diskUsage(ctx.store());
      const total = usage.reduce((sum, part) => sum + part.bytes, 0);
      ctx.out(formatTable(['WHAT', 'SIZE'], [...usage.map((part) => [part.what, humanSize(part.bytes)]), ['total', humanSize(total)]]));
    });
}
