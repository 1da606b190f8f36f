import { Option, type Command } from 'commander';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { buildImage, checkBuild, dockerfileTooLarge, MAX_DOCKERFILE_BYTES, parseCacheSpec, parseOutputSpec, type SecretSource, type StepReport } from '../../app/index.js';
import { formatPlatform, hostPlatform, normalizeReference, parsePlatformFlag } from '../../image/index.js';
import { createProgressSink, Progress, type ProgressMode } from '../../progress/index.js';
import { GantryError, parseKeyValueList, splitKeyValue } from '../../util/index.js';
import { readGantryConfig } from '../config-file.js';
import { collect, formatTable, type CliContext } from '../context.js';
import { grantedEntitlements } from '../entitlement-flags.js';
import { registryOptions } from '../registry-options.js';

interface BuildFlags {
  file?: string;
  tag: string[];
  buildArg: string[];
  target?: string;
  label: string[];
  network: string;
  allow: string[];
  runtime: string;
  output: string[];
  progress: string;
  quiet?: boolean;
  cache: boolean;
  noCacheFilter: string[];
  pull?: boolean;
  push?: boolean;
  secret: string[];
  ssh: string[];
  platform?: string;
  check?: boolean;
  explain?: boolean;
  insecureRegistry: string[];
  cacheFrom: string[];
  cacheTo?: string;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('build')
    .description('build an image from a Dockerfile')
    .argument('<context>', 'build context directory')
    .option('-f, --file <path>', 'Dockerfile (default: CONTEXT/Dockerfile; - reads standard input)')
    .option('-t, --tag <name:tag>', 'name the image (repeatable)', collect, [])
    .option('--build-arg <key=value>', 'set a build argument; KEY alone takes it from the environment (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage')
    .option('--label <key=value>', 'add an image label (repeatable)', collect, [])
    .option('--network <mode>', "network for RUN steps: default (a namespace of their own with outbound access through slirp4netns), host (the host's; grants network.host) or none", 'default')
    .option('--allow <entitlements>', 'grant RUN steps network.host (RUN --network=host) or security.insecure (RUN --security=insecure); comma-separated, repeatable', collect, [])
    .option('--runtime <runtime>', 'OCI runtime: runc, crun or a path', 'runc')
    .option('-o, --output <spec>', 'type=oci|docker|local|tar,dest=PATH (repeatable; the image is always stored too)', collect, [])
    .option('--progress <mode>', 'auto, tty, plain, json or quiet', 'auto')
    .option('-q, --quiet', 'print only the image digest')
    .option('--no-cache', 'do not use the build cache')
    .addOption(noCacheFilterOption())
    .option('--pull', 'always look for newer base images in their registries')
    .option('--push', 'push the image to its registry (the -t names) after building')
    .option('--secret <id=ID,src=FILE|env=VAR>', 'expose a secret to RUN --mount=type=secret (repeatable)', collect, [])
    .option('--ssh <id[=socket]>', 'forward an SSH agent to RUN --mount=type=ssh (repeatable; default socket $SSH_AUTH_SOCK)', collect, [])
    .option('--platform <platforms>', 'target platforms, comma-separated (default: this machine); several make an image index')
    .option('--check', 'run the build checks only; exit non-zero on an error-level finding')
    .option('--explain', 'after the build, print a table of every step: hit or miss, time, and why it missed')
    .option('--cache-from <spec>', 'import build cache: type=local,src=DIR or type=registry,ref=REF (repeatable)', collect, [])
    .option('--cache-to <spec>', 'export build cache: type=local,dest=DIR or type=registry,ref=REF [,mode=min|max]')
    .option('--insecure-registry <host>', 'allow plain HTTP or an untrusted certificate for this registry (repeatable)', collect, [])
    .action(async (contextArg: string, flags: BuildFlags) => {
      const contextDir = resolve(contextArg);
      const contextStat = await stat(contextDir).catch(() => undefined);
      if (!contextStat?.isDirectory()) {
        throw new GantryError(`build context ${contextDir} ${contextStat ? 'is not a directory' : 'does not exist'}`, { hint: 'pass the directory holding your files, e.g. `gantry build .`' });
      }
      const dockerfile = await readDockerfile(contextDir, flags.file);
      const buildArgs = parseBuildArgs(flags.buildArg);
      const platforms = flags.platform ? [...new Map(flags.platform.split(',').map((p) => parsePlatformFlag(p)).map((p) => [formatPlatform(p), p])).values()] : [hostPlatform()];
      const sourceDateEpoch = parseEpoch(buildArgs.SOURCE_DATE_EPOCH ?? process.env.SOURCE_DATE_EPOCH);

      if (flags.check) {
        const result = await checkBuild(ctx.store(), { dockerfile, buildArgs, target: flags.target, platforms, registry: registryOptions(flags.insecureRegistry) });
        for (const w of result.warnings) {
          ctx.out(`${w.level === 'error' ? 'ERROR' : 'WARNING'}: ${w.rule} - ${w.location ? `${w.location.file}:${w.location.line}: ` : ''}${w.detail}\n  ${w.url}\n`);
        }
        for (const note of result.unresolved) ctx.out(`NOTE: base image ${note} (checks that read its config were skipped)\n`);
        if (result.error) throw result.error;
        ctx.out(result.warnings.length === 0 ? 'Check complete, no warnings found.\n' : `Check complete, ${result.warnings.length} warning${result.warnings.length === 1 ? '' : 's'} found.\n`);
        if (result.failed) process.exitCode = 1;
        return;
      }

      const progressMode = (flags.quiet ? 'quiet' : flags.progress) as ProgressMode;
      if (!['auto', 'tty', 'plain', 'json', 'quiet'].includes(progressMode)) {
        throw new GantryError(`--progress ${flags.progress} is not a progress mode`, { hint: 'use auto, tty, plain, json or quiet' });
      }
      if (flags.network !== 'default' && flags.network !== 'host' && flags.network !== 'none') {
        throw new GantryError(`--network ${flags.network} is not supported`, { hint: 'use default (the sandbox network), host or none' });
      }
      const network = flags.network;
      const entitlements = grantedEntitlements(flags.allow, network, readGantryConfig());
      const tags = flags.tag.map(normalizeReference);
      const progress = new Progress(createProgressSink(progressMode));
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const result = await buildImage(ctx.store(), {
          contextDir,
          dockerfile,
          buildArgs,
          target: flags.target,
          platforms,
          labels: Object.fromEntries(flags.label.map((l) => splitKeyValue(l, '--label'))),
          network,
          entitlements,
          runtime: flags.runtime,
          noCache: !flags.cache,
          noCacheFilter: flags.noCacheFilter,
          pull: flags.pull ?? false,
          secrets: parseSecrets(flags.secret),
          sshAgents: parseSsh(flags.ssh),
          sourceDateEpoch,
          progress,
          tags,
          outputs: flags.output.map(parseOutputSpec),
          cacheFrom: flags.cacheFrom.map((spec) => parseCacheSpec(spec, '--cache-from')),
          cacheTo: flags.cacheTo ? parseCacheSpec(flags.cacheTo, '--cache-to') : undefined,
          push: flags.push ?? false,
          registry: registryOptions(flags.insecureRegistry, (line) => progress.info(line)),
          signal: abort.signal,
        });
        progress.close();
        if (flags.explain) ctx.err(explainTable(result.report));
        ctx.out(flags.quiet ? `${result.descriptor.digest}\n` : '');
        if (progressMode === 'json') ctx.err(`${JSON.stringify({ time: new Date().toISOString(), type: 'result', digest: result.descriptor.digest, tags })}\n`);
        else if (!flags.quiet) ctx.err(`${result.descriptor.digest}${tags.length ? ` ${tags.join(' ')}` : ''}\n`);
      } finally {
        progress.close();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

async function readDockerfile(contextDir: string, file: string | undefined): Promise<{ path: string; displayName: string; text: string }> {
  if (file === '-') {
    // Bytes are gathered and decoded once, so a character split between chunks survives; reading stops past the limit.
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      size += (chunk as Buffer).length;
      if (size > MAX_DOCKERFILE_BYTES) throw dockerfileTooLarge('Dockerfile');
      chunks.push(chunk as Buffer);
    }
    return { path: join(contextDir, 'Dockerfile'), displayName: 'Dockerfile', text: Buffer.concat(chunks).toString('utf8') };
  }
  const path = file ? resolve(file) : join(contextDir, 'Dockerfile');
  const rel = relative(process.cwd(), path);
  const displayName = file ?? (rel.startsWith('..') || isAbsolute(rel) ? path : rel);
  const unreadable = () =>
    new GantryError(`cannot read Dockerfile ${path}`, { hint: file ? 'check the -f path' : `put a Dockerfile in ${contextDir} or name one with -f` });
  // The size is checked before anything is read; the read itself stops past the limit too (a FIFO, a device, a growing file).
  const stats = await stat(path).catch(() => undefined);
  if (!stats) throw unreadable();
  if (stats.size > MAX_DOCKERFILE_BYTES) throw dockerfileTooLarge(displayName, stats.size);
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    const buffer = Buffer.alloc(Math.min(MAX_DOCKERFILE_BYTES + 1, Math.max(stats.size + 1, 64 * 1024)));
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > MAX_DOCKERFILE_BYTES) throw dockerfileTooLarge(displayName);
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
    }
    return { path, displayName, text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    if (err instanceof GantryError) throw err;
    throw unreadable();
  } finally {
    await handle?.close();
  }
}

function parseBuildArgs(values: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq < 0) {
      // Docker's rule: a bare name takes its value from the environment, and is skipped when unset.
      const fromEnv = process.env[value];
      if (fromEnv !== undefined) args[value] = fromEnv;
    } else {
      args[value.slice(0, eq)] = value.slice(eq + 1);
    }
  }
  return args;
}

function parseEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new GantryError(`SOURCE_DATE_EPOCH "${value}" is not a number of seconds`);
  return Number(value);
}

function parseSecrets(values: string[]): Map<string, SecretSource> {
  const secrets = new Map<string, SecretSource>();
  for (const value of values) {
    const fields = parseKeyValueList(value, '--secret', { known: ['id', 'src', 'source', 'env'], example: 'id=mytoken,src=./token.txt' });
    const id = fields.get('id');
    if (!id) throw new GantryError(`--secret "${value}" needs id=`, { hint: '--secret id=mytoken,src=./token.txt or --secret id=mytoken,env=TOKEN' });
    const src = fields.get('src') ?? fields.get('source');
    const env = fields.get('env');
    if (!src && !env) secrets.set(id, { env: id });
    else secrets.set(id, src ? { file: resolve(src) } : { env });
  }
  return secrets;
}

function parseSsh(values: string[]): Map<string, string> {
  const agents = new Map<string, string>();
  for (const value of values) {
    const eq = value.indexOf('=');
    const id = eq < 0 ? value : value.slice(0, eq);
    const socket = eq < 0 ? process.env.SSH_AUTH_SOCK : value.slice(eq + 1);
    if (!socket) throw new GantryError(`--ssh ${value}: no agent socket`, { hint: 'start an ssh-agent (SSH_AUTH_SOCK) or give --ssh default=/path/to/socket' });
    agents.set(id, resolve(socket));
  }
  return agents;
}

function explainTable(report: StepReport[]): string {
  return formatTable(
    ['STEP', 'RESULT', 'TIME', 'CAUSE'],
    report.map((r) => [r.label, r.cached ? 'hit' : 'miss', `${r.seconds.toFixed(2)}s`, r.cause ?? '']),
  );
}

/** `--no-cache-filter` takes a value; commander would read any `--no-*` flag as a negation. */
function noCacheFilterOption(): Option {
  const option = new Option('--no-cache-filter <stages>', 'do not use the cache for these stages (comma-separated, repeatable)')
    .argParser((value: string, previous: string[] = []) => [...previous, ...value.split(',').filter(Boolean)])
    .default([]);
  option.negate = false;
  return option;
}
