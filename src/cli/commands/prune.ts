import type { Command } from 'commander';
import { Snapshotter } from '../../snapshot/snapshotter.js';
import { prune } from '../../store/gc.js';
import { humanSize, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('prune')
    .description('remove untagged images, the build cache, and every blob and snapshot no tagged image uses')
    .option('--keep-cache', 'keep the build cache (and the layers it points to)')
    .action(async (opts: { keepCache?: boolean }) => {
      const store = await ctx.openStore();
      const snapshotters = await Promise.all((['overlayfs', 'native'] as const).map((name) => Snapshotter.open(store.snapshotsDir, name)));
      const report = await prune(store, { keepCache: opts.keepCache ?? false, snapshotters, onWait: (m) => ctx.err(`${m}\n`) });
      ctx.out(
        `Deleted ${report.untaggedImages} untagged images, ${report.cacheRecords} cache records, ${report.blobs} blobs, ${report.snapshots} snapshots\n` +
          `Total reclaimed space: ${humanSize(report.bytes)}\n`,
      );
    });
}
