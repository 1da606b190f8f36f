/**
 * The OCI runtime driver: runs build containers with runc (by default), crun or any compatible binary. Writes
 * a bundle (config.json plus generated /etc files), runs `<runtime> run` in the foreground with our
 * pipes as its stdio, and always deletes the container afterwards. Container ids carry our pid so a
 * later gantry process can remove containers left behind by a killed one.
 *
 * A run with secrets keeps its whole bundle (config.json holds secret environment variables, and the
 * secret files) in memory only: the runtime starts in a private mount namespace (`unshare --mount
 * --propagation private`) where a tmpfs is mounted over the empty bundle directory, gantry writes the
 * bundle through /proc/<pid>/root, and only then lets the runtime start. No mount table outside that
 * namespace shows the tmpfs, and it is freed with the namespace when the runtime and the container
 * exit, or when gantry is killed before the runtime started. Mounts made before (the rootfs, bind
 * sources) are copied into the namespace; the state directory stays outside, so `kill` and `delete`
 * work as for any container. Secret values are also hidden from the output gantry passes on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, chown, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { GantryError, findExecutable, ownerIsDead } from '../util/index.js';
import type { ContainerRuntime, RunContainerOptions, RunResult, SecretFile } from './runtime.js';
import { stopHelper, waitUntilReady } from './helper-process.js';
import { redactionPatterns, Redactor } from './redact.js';
import { buildSpec, type NetworkAttachment, type SpecMount } from './spec.js';

/**
 * Mounts the in-memory bundle, says so on fd 3, waits there for gantry to have written the bundle, then
 * becomes the runtime. $1: bundle directory, $2: tmpfs size; the runtime's command line follows.
 */
const PRIVATE_BUNDLE_SCRIPT = [
  'mount -t tmpfs -o "mode=0700,nosuid,nodev,noexec,size=$2" gantry-bundle "$1" || exit 125',
  'echo ready >&3',
  'read -r go <&3 || exit 125',
  'exec 3>&-',
  'shift 2',
  'exec "$@"',
].join('\n');

export class OciRuntime implements ContainerRuntime {
  private counter = 0;
  get description(): string {
    return `OCI runtime ${this.binary}`;
  }

  private constructor(
    private readonly binary: string,
    private readonly stateDir: string,
    private readonly bundlesDir: string,
  ) {}

  /** `name` is "runc", "crun" or a path to a runtime binary. */
  static async open(name: string, stateDir: string, bundlesDir: string): Promise<OciRuntime> {
    const binary = await findExecutable(name);
    if (!binary) {
      throw new GantryError(`OCI runtime "${name}" not found`, {
        hint: name === 'runc' || name === 'crun' ? `install it (scripts/install-deps.sh installs runc) or pass --runtime PATH` : 'pass --runtime runc, crun or the path of an OCI runtime binary',
      });
    }
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await mkdir(bundlesDir, { recursive: true, mode: 0o700 });
    return new OciRuntime(binary, stateDir, bundlesDir);
  }

  async run(options: RunContainerOptions): Promise<RunResult> {
    const id = `gantry-${process.pid}-${Date.now().toString(36)}-${++this.counter}`;
    const bundle = join(this.bundlesDir, id);
    await mkdir(bundle, { recursive: true, mode: 0o700 });
    const secrets = options.secrets ?? { files: [], env: [] };
    const inMemory = secrets.files.length > 0 || secrets.env.length > 0;
    const redact = redactionPatterns([...secrets.files.map((f) => f.content), ...secrets.env.map((e) => Buffer.from(e.slice(e.indexOf('=') + 1)))]);
    const runtimeArgs = ['--root', this.stateDir, 'run', '--bundle', bundle, id];
    let finished = false;
    try {
      let child: ChildProcess;
      if (inMemory) {
        child = await this.startInMemory(bundle, runtimeArgs, options, secrets);
      } else {
        await this.writeBundle(bundle, bundle, options, secrets);
        child = spawn(this.binary, runtimeArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
      }
      const result = await this.supervise(id, child, options, redact);
      finished = !options.signal?.aborted;
      return result;
    } finally {
      // `run` deletes the container when its process ends; only an interrupted run leaves one behind.
      if (!finished || (await this.stateExists(id))) await this.forceDelete(id);
      await rm(bundle, { recursive: true, force: true });
    }
  }

  /** Writes config.json, the /etc files and the secret files into `dir`, which the runtime will see as `bundle`. */
  private async writeBundle(dir: string, bundle: string, options: RunContainerOptions, secrets: { files: SecretFile[]; env: string[] }): Promise<void> {
    const etcMounts = await writeEtcFiles(dir, bundle, options.spec.hostname, options.spec.network);
    const secretMounts: SpecMount[] = [];
    for (const [i, file] of secrets.files.entries()) {
      const name = `secret-${i}`;
      await writeFile(join(dir, name), file.content, { mode: 0o600 });
      await chown(join(dir, name), file.uid, file.gid);
      await chmod(join(dir, name), file.mode);
      secretMounts.push({ destination: file.destination, type: 'bind', source: join(bundle, name), options: ['rbind', 'ro'] });
    }
    const spec = buildSpec({
      ...options.spec,
      process: { ...options.spec.process, env: [...options.spec.process.env, ...secrets.env] },
      mounts: [...etcMounts, ...(options.spec.mounts ?? []), ...secretMounts],
    });
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
  }

  /** Starts the runtime in a private mount namespace with the bundle on a tmpfs there (see the header). */
  private async startInMemory(bundle: string, runtimeArgs: string[], options: RunContainerOptions, secrets: { files: SecretFile[]; env: string[] }): Promise<ChildProcess> {
    const bytes = secrets.files.reduce((sum, f) => sum + f.content.length, 0) + secrets.env.reduce((sum, e) => sum + e.length, 0);
    // Room for the secrets, config.json (which repeats the environment) and the /etc files.
    const size = `${Math.ceil((2 * bytes) / 1024) + 1024}k`;
    const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', PRIVATE_BUNDLE_SCRIPT, 'sh', bundle, size, this.binary, ...runtimeArgs], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    const control = child.stdio[3] as Socket;
    try {
      await waitUntilReady(child, control, 'preparing the in-memory bundle for a RUN with secrets (unshare --mount)', 'util-linux');
      if (options.signal?.aborted) throw options.signal.reason;
      await this.writeBundle(`/proc/${child.pid}/root${bundle}`, bundle, options, secrets);
    } catch (err) {
      await stopHelper(child, control);
      throw err;
    }
    control.end('go\n');
    return child;
  }

  /** Passes the output on (without secret values), kills the container on abort, and waits for the runtime to exit. */
  private supervise(id: string, child: ChildProcess, options: RunContainerOptions, redact: Buffer[]): Promise<RunResult> {
    const keep = options.tailLines ?? 20;
    const tail = new TailBuffer(keep);
    const emit = (chunk: Buffer, stream: 'stdout' | 'stderr') => {
      if (chunk.length === 0) return;
      tail.push(chunk);
      options.onOutput?.(chunk, stream);
    };
    const forward = (stream: 'stdout' | 'stderr') => {
      const redactor = new Redactor(redact);
      const source = child[stream]!;
      source.on('data', (chunk: Buffer) => emit(redactor.push(chunk), stream));
      return new Promise<void>((resolve) => source.once('close', () => resolve(emit(redactor.flush(), stream))));
    };
    return new Promise((resolve, reject) => {
      const streams = Promise.all([forward('stdout'), forward('stderr')]);
      const onAbort = () => {
        spawn(this.binary, ['--root', this.stateDir, 'kill', id, 'KILL'], { stdio: 'ignore' }).on('error', () => undefined);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (err) => {
        options.signal?.removeEventListener('abort', onAbort);
        reject(new GantryError(`could not start the OCI runtime ${this.binary}: ${err.message}`, { cause: err }));
      });
      child.on('close', (code, signal) => {
        options.signal?.removeEventListener('abort', onAbort);
        void streams.then(() => resolve({ exitCode: code ?? (signal ? 128 + signalNumber(signal) : 1), tail: tail.lines() }));
      });
    });
  }

  private async stateExists(id: string): Promise<boolean> {
    return access(join(this.stateDir, id)).then(
      () => true,
      () => false,
    );
  }

  private async forceDelete(id: string): Promise<void> {
    await new Promise<void>((resolve) => {
      const child = spawn(this.binary, ['--root', this.stateDir, 'delete', '--force', id], { stdio: 'ignore' });
      child.on('error', () => resolve());
      child.on('close', () => resolve());
    });
  }

  /**
   * Removes containers and bundles left by gantry processes that no longer exist. A container always
   * has a state directory named by its id under the runtime root, so no runtime call is needed to find them.
   */
  async removeStale(): Promise<void> {
    for (const id of await readdir(this.stateDir).catch(() => [] as string[])) {
      if (ownerIsDead(id, 'gantry-')) await this.forceDelete(id);
    }
    for (const name of await readdir(this.bundlesDir).catch(() => [] as string[])) {
      if (ownerIsDead(name, 'gantry-')) await rm(join(this.bundlesDir, name), { recursive: true, force: true });
    }
  }
}

/**
 * /etc/hosts and /etc/resolv.conf, bind-mounted read-only as BuildKit does (the image's own
 * /etc/hostname is left alone: BuildKit sets the hostname without mounting a file). Written into
 * `dir`, which the runtime sees as `bundle`.
 */
async function writeEtcFiles(dir: string, bundle: string, hostname: string, network: NetworkAttachment): Promise<SpecMount[]> {
  await writeFile(join(dir, 'hosts'), `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  await writeFile(join(dir, 'resolv.conf'), resolvConf(await readFile('/etc/resolv.conf', 'utf8').catch(() => ''), network));
  const bind = (name: string, destination: string): SpecMount => ({ destination, type: 'bind', source: join(bundle, name), options: ['rbind', 'ro'] });
  return [bind('hosts', '/etc/hosts'), bind('resolv.conf', '/etc/resolv.conf')];
}

/**
 * The container's resolv.conf from the host's: as it is on the host's network; with the joined
 * network's resolvers in place of the host's (search and options lines kept); in a namespace with
 * only loopback, without the host's loopback resolvers (nothing answers there anyway).
 */
export function resolvConf(host: string, network: NetworkAttachment): string {
  if (network.kind === 'host') return host;
  const kept = host.split('\n').filter((line) => line.trim() !== '' && (network.kind === 'join' ? !/^\s*nameserver\s/.test(line) : !/^\s*nameserver\s+(127\.|::1)/.test(line)));
  const nameservers = network.kind === 'join' ? network.nameservers : kept.some((line) => /^\s*nameserver\s/.test(line)) ? [] : ['8.8.8.8', '8.8.4.4'];
  return [...kept, ...nameservers.map((ns) => `nameserver ${ns}`)].join('\n') + '\n';
}

class TailBuffer {
  private text = '';
  constructor(private readonly keep: number) {}
  push(chunk: Buffer): void {
    this.text += chunk.toString('utf8');
    // Bound memory: keep a little more than the wanted lines.
    if (this.text.length > 64 * 1024) this.text = this.text.slice(-32 * 1024);
  }
  lines(): string[] {
    const lines = this.text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-this.keep);
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

function signalNumber(signal: string): number {
  return SIGNALS[signal] ?? 0;
}
