import type { Command } from 'commander';
import { join } from 'node:path';
import { dirSize } from '../../store/gc.js';
import { formatTable, humanSize, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('du')
    .description('show disk usage of the store')
    .action(async () => {
      const store = await ctx.openStore();
      const parts: Array<[string, string]> = [
        ['blobs (images and cached layers)', join(store.root, 'blobs')],
        ['snapshots (unpacked layers)', store.snapshotsDir],
        ['build cache records', store.cacheDir],
        ['cache mounts (RUN --mount=type=cache)', store.cacheMountsDir],
        ['context stat caches', store.contextCacheDir],
        ['temporary files', store.tmpDir],
      ];
      const rows: string[][] = [];
      let total = 0;
      for (const [what, path] of parts) {
        const size = await dirSize(path);
        total += size;
        rows.push([what, humanSize(size)]);
      }
      rows.push(['total', humanSize(total)]);
      ctx.out(formatTable(['WHAT', 'SIZE'], rows));
    });
}
