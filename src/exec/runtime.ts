/**
 * Runs build containers with an OCI runtime (runc by default, crun or any compatible binary): writes
 * a bundle (config.json plus generated /etc files), runs `<runtime> run` in the foreground with our
 * pipes as its stdio, and always deletes the container afterwards. Container ids carry our pid so a
 * later gantry process can remove containers left behind by a killed one.
 */
import { spawn } from 'node:child_process';
import { access, constants, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { GantryError } from '../util/errors.js';
import { ownerIsDead } from '../util/process.js';
import { buildSpec, type SpecMount, type SpecOptions } from './spec.js';

export interface RunResult {
  exitCode: number;
  /** The last lines the process wrote (stdout and stderr interleaved), for error messages. */
  tail: string[];
}

export interface RunContainerOptions {
  spec: Omit<SpecOptions, 'mounts'> & { mounts?: SpecMount[] };
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  signal?: AbortSignal;
  /** Lines kept for RunResult.tail. */
  tailLines?: number;
}

export class ContainerRuntime {
  private counter = 0;

  private constructor(
    readonly binary: string,
    private readonly stateDir: string,
    private readonly bundlesDir: string,
  ) {}

  /** `name` is "runc", "crun" or a path to a runtime binary. */
  static async open(name: string, stateDir: string, bundlesDir: string): Promise<ContainerRuntime> {
    const binary = await findExecutable(name);
    if (!binary) {
      throw new GantryError(`OCI runtime "${name}" not found`, {
        hint: name === 'runc' || name === 'crun' ? `install it (scripts/install-deps.sh installs runc) or pass --runtime PATH` : 'pass --runtime runc, crun or the path of an OCI runtime binary',
      });
    }
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await mkdir(bundlesDir, { recursive: true, mode: 0o700 });
    return new ContainerRuntime(binary, stateDir, bundlesDir);
  }

  async run(options: RunContainerOptions): Promise<RunResult> {
    const id = `gantry-${process.pid}-${Date.now().toString(36)}-${++this.counter}`;
    const bundle = join(this.bundlesDir, id);
    await mkdir(bundle, { recursive: true, mode: 0o700 });
    let finished = false;
    try {
      const etcMounts = await writeEtcFiles(bundle, options.spec.hostname, options.spec.hostNetwork);
      const spec = buildSpec({ ...options.spec, mounts: [...etcMounts, ...(options.spec.mounts ?? [])] });
      await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
      const result = await this.runBundle(id, bundle, options);
      finished = !options.signal?.aborted;
      return result;
    } finally {
      // `run` deletes the container when its process ends; only an interrupted run leaves one behind.
      if (!finished || (await this.stateExists(id))) await this.forceDelete(id);
      await rm(bundle, { recursive: true, force: true });
    }
  }

  private runBundle(id: string, bundle: string, options: RunContainerOptions): Promise<RunResult> {
    const keep = options.tailLines ?? 20;
    const tail = new TailBuffer(keep);
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, ['--root', this.stateDir, 'run', '--bundle', bundle, id], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const onAbort = () => {
        spawn(this.binary, ['--root', this.stateDir, 'kill', id, 'KILL'], { stdio: 'ignore' }).on('error', () => undefined);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (chunk: Buffer) => {
        tail.push(chunk);
        options.onOutput?.(chunk, 'stdout');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        tail.push(chunk);
        options.onOutput?.(chunk, 'stderr');
      });
      child.on('error', (err) => {
        options.signal?.removeEventListener('abort', onAbort);
        reject(new GantryError(`could not start the OCI runtime ${this.binary}: ${err.message}`, { cause: err }));
      });
      child.on('close', (code, signal) => {
        options.signal?.removeEventListener('abort', onAbort);
        resolve({ exitCode: code ?? (signal ? 128 + signalNumber(signal) : 1), tail: tail.lines() });
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

  /** Removes containers and bundles left by gantry processes that no longer exist. */
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
 * /etc/hostname is left alone: BuildKit sets the hostname without mounting a file).
 */
async function writeEtcFiles(bundle: string, hostname: string, hostNetwork: boolean): Promise<SpecMount[]> {
  const hosts = join(bundle, 'hosts');
  const resolv = join(bundle, 'resolv.conf');
  await writeFile(hosts, `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  await writeFile(resolv, await resolvConf(hostNetwork));
  const bind = (source: string, destination: string): SpecMount => ({ destination, type: 'bind', source, options: ['rbind', 'ro'] });
  return [bind(hosts, '/etc/hosts'), bind(resolv, '/etc/resolv.conf')];
}

/** The host's resolv.conf; a loopback resolver is unreachable from a private network namespace, so it is replaced then. */
async function resolvConf(hostNetwork: boolean): Promise<string> {
  const host = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
  if (hostNetwork) return host;
  const kept = host.split('\n').filter((line) => !/^\s*nameserver\s+(127\.|::1)/.test(line));
  if (!kept.some((line) => /^\s*nameserver\s/.test(line))) kept.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return kept.join('\n') + '\n';
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

async function findExecutable(name: string): Promise<string | undefined> {
  const candidates = isAbsolute(name) || name.includes('/') ? [name] : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next directory
    }
  }
  return undefined;
}
