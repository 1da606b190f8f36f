/** pull, push, login, logout and manifest: moving images through registries. */
import type { Command } from 'commander';
import { MAX_MANIFEST_BYTES, parseJsonDocument } from '../../image/documents.js';
import { parsePlatformFlag } from '../../image/platform.js';
import { familiarReference, normalizeReference, parseReference } from '../../image/reference.js';
import { createLocalIndex } from '../../store/images.js';
import { GantryError } from '../../util/errors.js';
import { collect, type CliContext } from '../context.js';
import { loadRegistry, registryOptions } from '../registry-options.js';
import { unpackForThisMachine } from '../unpack.js';

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
      const { pullImage, closeRegistrySession } = await loadRegistry();
      const store = await ctx.openStore();
      const options = registryOptions(opts.insecureRegistry, opts.quiet ? undefined : log);
      try {
        const result = await pullImage(store, reference, { ...options, platform: opts.platform ? parsePlatformFlag(opts.platform) : undefined, allPlatforms: opts.allPlatforms });
        await unpackForThisMachine(store, result.descriptor, ctx);
        ctx.out(opts.quiet ? `${result.descriptor.digest}\n` : `Digest: ${result.remoteDigest}\nStatus: downloaded ${familiarReference(parseReference(reference))}\n`);
      } finally {
        await closeRegistrySession(options);
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
      const { pushImage, closeRegistrySession } = await loadRegistry();
      const store = await ctx.openStore();
      const options = registryOptions(opts.insecureRegistry, opts.quiet ? undefined : log);
      try {
        const result = await pushImage(store, image, reference ?? image, options);
        ctx.out(opts.quiet ? `${result.descriptor.digest}\n` : `pushed ${result.reference}: digest: ${result.descriptor.digest} size: ${result.descriptor.size}\n`);
      } finally {
        await closeRegistrySession(options);
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
      const { login, closeRegistrySession } = await loadRegistry();
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
        await closeRegistrySession(options);
      }
    });

  program
    .command('logout')
    .description('remove stored credentials for a registry')
    .argument('<registry>')
    .action(async (registry: string) => {
      const { logout } = await loadRegistry();
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
      if (opts.local) {
        const store = await ctx.openStore();
        const descriptor = await createLocalIndex(store, normalizeReference(target), sources, annotations);
        ctx.out(`${descriptor.digest}\n`);
        return;
      }
      const { createManifestList, closeRegistrySession } = await loadRegistry();
      const options = registryOptions(opts.insecureRegistry, log);
      try {
        const result = await createManifestList(sources, target, { ...options, annotations });
        ctx.out(`${result.descriptor.digest}\n`);
      } finally {
        await closeRegistrySession(options);
      }
    });
  manifest
    .command('inspect')
    .description('print the raw manifest or index of a remote reference')
    .argument('<reference>')
    .option('--insecure-registry <host>', insecureHelp, collect, [])
    .action(async (reference: string, opts: { insecureRegistry: string[] }) => {
      const { fetchManifest, closeRegistrySession } = await loadRegistry();
      const options = registryOptions(opts.insecureRegistry);
      try {
        const resolved = await fetchManifest(reference, options);
        // Parsed as any image document is (nesting bounded), since it is written out again.
        const document = parseJsonDocument(resolved.bytes, `${reference}: ${resolved.descriptor.digest}`, MAX_MANIFEST_BYTES);
        ctx.out(`${JSON.stringify(document, null, 2)}\n`);
      } finally {
        await closeRegistrySession(options);
      }
    });
}

export function splitKeyValue(text: string, flag: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new GantryError(`${flag} "${text}" must be KEY=VALUE`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += (chunk as Buffer).toString('utf8');
  return text;
}
