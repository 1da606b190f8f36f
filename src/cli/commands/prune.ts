import type { Command } from 'commander';
import { pruneStore } from '../../app/index.js';
import { humanSize, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('prune')
    .description('remove untagged images, the build cache, and every blob and snapshot no tagged image uses')
    .option('--keep-cache', 'keep the build cache (and the layers it points to)')
    .option('--runtime <runtime>', 'OCI runtime whose containers left by killed builds are removed: runc, crun or a path', 'runc')
    .action(async (opts: { keepCache?: boolean; runtime: string }) => {
      const report = await pruneStore(ctx.store(), { keepCache: opts.keepCache ?? false, runtime: opts.runtime });
      ctx.out(
        `Deleted ${report.untaggedImages} untagged images, ${report.cacheRecords} cache records, ${report.blobs} blobs, ${report.snapshots} snapshots, ${report.stepInputs} step input records\n` +
          `Total reclaimed space: ${humanSize(report.bytes)}\n`,
      );
    });
}
