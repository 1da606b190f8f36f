import type { Command } from 'commander';
import { openRuntime } from '../../exec/runtime.js';
import { withDefaultPath } from '../../exec/spec.js';
import { resolveUser } from '../../exec/users.js';
import { parsePlatformFlag } from '../../image/platform.js';
import { openSnapshotter } from '../../snapshot/snapshotter.js';
import { LayerStore, layerRecords } from '../../solver/layers.js';
import { findLocalImage } from '../../store/images.js';
import { GantryError } from '../../util/errors.js';
import { collect, type CliContext } from '../context.js';
import { noSuchImage } from './inspect.js';

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
      const store = await ctx.openStore();
      const image = await findLocalImage(store, name, opts.platform ? parsePlatformFlag(opts.platform) : undefined);
      if (!image) throw noSuchImage(name);
      const config = image.config.config ?? {};
      const entrypoint = opts.entrypoint !== undefined ? (opts.entrypoint === '' ? [] : [opts.entrypoint]) : (config.Entrypoint ?? []);
      const cmd = command.length > 0 ? command : opts.entrypoint !== undefined ? [] : (config.Cmd ?? []);
      const args = [...entrypoint, ...cmd];
      if (args.length === 0) throw new GantryError(`image ${name} has no command to run`, { hint: 'give a command after the image name' });

      const snapshotter = await openSnapshotter(store.snapshotsDir);
      await snapshotter.removeStale();
      const chain = await new LayerStore(store, {}).materialize(snapshotter, layerRecords(image, `image ${name}`));
      const active = await snapshotter.prepare(chain);
      try {
        const rootfs = await active.mount();
        const user = await resolveUser(rootfs, opts.user ?? config.User ?? '');
        const runtime = await openRuntime(opts.runtime, store.runtimeDirs);
        const env = withDefaultPath([...(config.Env ?? []), ...opts.env]);
        const result = await runtime.run({
          spec: {
            rootfs,
            hostname: 'gantry',
            network: opts.network === 'host' ? { kind: 'host' } : { kind: 'loopback' },
            insecure: false,
            process: { args, env, cwd: opts.workdir ?? (config.WorkingDir || '/'), uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
          },
          onOutput: (chunk, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
        });
        process.exitCode = result.exitCode;
      } finally {
        await active.remove();
      }
    });
}
