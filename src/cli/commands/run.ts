import type { Command } from 'commander';
import { runImage } from '../../app/index.js';
import { parsePlatformFlag } from '../../image/index.js';
import { GantryError } from '../../util/index.js';
import { collect, type CliContext } from '../context.js';

interface RunOptions {
  rm?: boolean;
  env: string[];
  user?: string;
  workdir?: string;
  entrypoint?: string;
  network: string;
  platform?: string;
  runtime: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description("run an image's command in a throwaway container, to check a build (the container is always removed)")
    .argument('<image>')
    .argument('[command...]', 'replaces the image CMD')
    .option('--rm', 'remove the container afterwards (always done; accepted for docker compatibility)')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable', collect, [])
    .option('-u, --user <user[:group]>', 'run as this user')
    .option('-w, --workdir <dir>', 'working directory')
    .option('--entrypoint <command>', 'replace the image ENTRYPOINT')
    .option('--network <mode>', 'host or none', 'host')
    .option('--platform <platform>', 'which platform of a multi-platform image')
    .option('--runtime <runtime>', 'OCI runtime: runc, crun or a path', 'runc')
    .passThroughOptions()
    .action(async (name: string, command: string[], opts: RunOptions) => {
      if (opts.network !== 'host' && opts.network !== 'none') {
        throw new GantryError(`--network ${opts.network} is not supported`, { hint: 'use host or none' });
      }
      process.exitCode = await runImage(ctx.store(), {
        image: name,
        command,
        env: opts.env,
        user: opts.user,
        workdir: opts.workdir,
        entrypoint: opts.entrypoint,
        network: opts.network,
        platform: opts.platform ? parsePlatformFlag(opts.platform) : undefined,
        runtime: opts.runtime,
        onOutput: (chunk, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
      });
    });
}
