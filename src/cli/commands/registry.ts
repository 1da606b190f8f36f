/** pull, push, login, logout and manifest: moving images through registries. */
import type { Command } from 'commander';
import { closeRegistryIfLoaded, loadRegistryUseCases } from '../../app/index.js';
import { familiarReference, parsePlatformFlag, parseReference } from '../../image/index.js';
import { GantryError, splitKeyValue } from '../../util/index.js';
import { collect, type CliContext } from '../context.js';
import { registryOptions } from '../registry-options.js';

const insecureHelp = 'allow plain HTTP or an untrusted certificate for this registry (repeatable)';

export function register(program: Command, ctx: CliContext): void {
  const log = (line: string) => ctx.err(`${line}\n`);

  program
    .command('pull')
    .description('pull an image from a registry into the store')
    .argument('<reference>')
    .option('--platform <platform>', 'platform to pull from a multi-platform image (default: this machine)')
    .option('--all-platforms', 'pull every platform of a multi-platform image')
    .option('-q, --quiet', 'print only the digest')
    .option('--insecure-registry <host>', insecureHelp, collect, [])
    .action(async (reference: string, opts: { platform?: string; allPlatforms?: boolean; quiet?: boolean; insecureRegistry: string[] }) => {
      const { pull } = await loadRegistryUseCases();
      const options = registryOptions(opts.insecureRegistry, opts.quiet ? undefined : log);
      try {
        const result = await pull(ctx.store(), { reference, platform: opts.platform ? parsePlatformFlag(opts.platform) : undefined, allPlatforms: opts.allPlatforms }, options, (message) => ctx.err(`warning: ${message}\n`));
        ctx.out(opts.quiet ? `${result.descriptor.digest}\n` : `Digest: ${result.remoteDigest}\nStatus: downloaded ${familiarReference(parseReference(reference))}\n`);
      } finally {
        await closeRegistryIfLoaded(options);
      }
    });

  program
    .command('push')
    .description('push a local image to a registry')
    .argument('<image>', 'local image name or digest')
    .argument('[reference]', 'where to push (default: the image name)')
    .option('-q, --quiet', 'print only the digest')
    .option('--insecure-registry <host>', insecureHelp, collect, [])
    .action(async (image: string, reference: string | undefined, opts: { quiet?: boolean; insecureRegistry: string[] }) => {
      const { push } = await loadRegistryUseCases();
      const options = registryOptions(opts.insecureRegistry, opts.quiet ? undefined : log);
      try {
        const result = await push(ctx.store(), image, reference ?? image, options);
        ctx.out(opts.quiet ? `${result.descriptor.digest}\n` : `pushed ${result.reference}: digest: ${result.descriptor.digest} size: ${result.descriptor.size}\n`);
      } finally {
        await closeRegistryIfLoaded(options);
      }
    });

  program
    .command('login')
    .description('log in to a registry (credentials are stored in the Docker config)')
    .argument('<registry>')
    .option('-u, --username <user>')
    .option('-p, --password <password>', 'insecure: prefer --password-stdin')
    .option('--password-stdin', 'read the password from standard input')
    .option('--insecure-registry <host>', insecureHelp, collect, [])
    .action(async (registry: string, opts: { username?: string; password?: string; passwordStdin?: boolean; insecureRegistry: string[] }) => {
      const { login } = await loadRegistryUseCases();
      if (!opts.username) throw new GantryError('login needs --username', { hint: 'gantry login -u USER --password-stdin REGISTRY' });
      let password = opts.password;
      if (opts.passwordStdin) {
        if (password) throw new GantryError('--password and --password-stdin are exclusive');
        password = (await readStdin()).replace(/\r?\n$/, '');
      }
      if (!password) throw new GantryError('login needs a password', { hint: 'pass it with --password-stdin' });
      const options = registryOptions(opts.insecureRegistry);
      try {
        const result = await login(registry, opts.username, password, options);
        ctx.out(`Login Succeeded (credentials stored in ${result.storedIn})\n`);
      } finally {
        await closeRegistryIfLoaded(options);
      }
    });

  program
    .command('logout')
    .description('remove stored credentials for a registry')
    .argument('<registry>')
    .action(async (registry: string) => {
      const { logout } = await loadRegistryUseCases();
      const removed = await logout(registry, registryOptions([]));
      ctx.out(removed ? `Removed login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
    });

  const manifest = program.command('manifest').description('multi-platform image indexes, in registries or in the store');
  manifest
    .command('create')
    .description('make an index of the platform images of SOURCES: pushed to a registry (like docker buildx imagetools create), or with --local kept in the store')
    .argument('<target>', 'reference the index is pushed to (or, with --local, named in the store)')
    .argument('<sources...>', 'images or indexes already in the registry (or, with --local, in the store)')
    .option('--local', 'use and make images in the local store instead of a registry')
    .option('--annotation <key=value>', 'index annotation (repeatable)', collect, [])
    .option('--insecure-registry <host>', insecureHelp, collect, [])
    .action(async (target: string, sources: string[], opts: { local?: boolean; annotation: string[]; insecureRegistry: string[] }) => {
      const annotations = Object.fromEntries(opts.annotation.map((a) => splitKeyValue(a, '--annotation')));
      const { createRemoteIndex, createStoreIndex } = await loadRegistryUseCases();
      if (opts.local) {
        ctx.out(`${(await createStoreIndex(ctx.store(), target, sources, annotations)).digest}\n`);
        return;
      }
      const options = registryOptions(opts.insecureRegistry, log);
      try {
        ctx.out(`${(await createRemoteIndex(target, sources, annotations, options)).digest}\n`);
      } finally {
        await closeRegistryIfLoaded(options);
      }
    });
  manifest
    .command('inspect')
    .description('print the raw manifest or index of a remote reference')
    .argument('<reference>')
    .option('--insecure-registry <host>', insecureHelp, collect, [])
    .action(async (reference: string, opts: { insecureRegistry: string[] }) => {
      const { remoteManifest } = await loadRegistryUseCases();
      const options = registryOptions(opts.insecureRegistry);
      try {
        ctx.out(`${JSON.stringify(await remoteManifest(reference, options), null, 2)}\n`);
      } finally {
        await closeRegistryIfLoaded(options);
      }
    });
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += (chunk as Buffer).toString('utf8');
  return text;
}
