import type { Command } from 'commander';
import { handlerStatus, setupBinfmt } from '../../app/index.js';
import { parsePlatformFlag } from '../../image/index.js';
import type { CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  const setup = program.command('setup').description('prepare this machine for gantry');
  setup
    .command('binfmt')
    .description('register QEMU user-mode emulators (binfmt_misc) so RUN works for foreign platforms; needs root')
    .action(async () => {
      const report = await setupBinfmt();
      if (report.mounted) ctx.out('mounted binfmt_misc\n');
      for (const handler of report.enabled) ctx.out(`enabled ${handler}\n`);
      const arm64 = await handlerStatus(parsePlatformFlag('linux/arm64'));
      if (arm64?.enabled) ctx.out(`linux/arm64 RUN steps will run under ${arm64.interpreter ?? arm64.handler}\n`);
    });
}
