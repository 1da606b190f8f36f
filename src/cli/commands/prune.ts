import type { Command } from 'commander';
import { openRuntime } from '../../exec/runtime.js';
import { openAllSnapshotters } from '../../snapshot/snapshotter.js';
import { prune } from '../../store/gc.js';
import { humanSize, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('prune')
    .description('remove untagged images, the build cache, and every blob and snapshot no tagged image uses')
    .option('--keep-cache', 'keep the build cache (and the layers it points to)')
    .option('--runtime <runtime>', 'OCI runtime whose containers left by killed builds are removed: runc, crun or a path', 'runc')
    .action(async (opts: { keepCache?: boolean; runtime: string }) => {
      const session = await ctx.openStoreAlone();
      const store = session.store;
      // Containers of killed builds go first: they may still hold the snapshots' mounts. Without the
      // runtime installed there are none to remove.
      const runtime = await openRuntime(opts.runtime, store.runtimeDirs).catch(() => undefined);
      await runtime?.removeStale();
      const snapshotters = await openAllSnapshotters(store.snapshotsDir);
      const report = await prune(session, { keepCache: opts.keepCache ?? false, snapshotters });
      ctx.out(
        `Deleted ${report.untaggedImages} untagged images, ${report.cacheRecords} cache records, ${report.blobs} blobs, ${report.snapshots} snapshots, ${report.stepInputs} step input records\n` +
          `Total reclaimed space: ${humanSize(report.bytes)}\n`,
      );
    });
}
