/** A private Docker engine for interop tests (vfs storage, no networking), with its own state directory. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export class DockerEngine {
  private daemon?: ChildProcess;
  readonly env: NodeJS.ProcessEnv;

  constructor(private readonly dir: string) {
    this.env = { ...process.env, DOCKER_HOST: `unix://${join(dir, 'docker.sock')}` };
  }

  static async available(): Promise<boolean> {
    return execFileAsync('sh', ['-c', 'command -v dockerd && command -v docker']).then(
      () => true,
      () => false,
    );
  }

  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const log = await open(join(this.dir, 'dockerd.log'), 'w');
    this.daemon = spawn(
      'dockerd',
      [
        '--data-root', join(this.dir, 'data'),
        '--exec-root', join(this.dir, 'exec'),
        '--pidfile', join(this.dir, 'dockerd.pid'),
        '--host', this.env.DOCKER_HOST!,
        '--storage-driver', 'vfs',
        '--bridge', 'none',
        '--iptables=false',
        '--ip6tables=false',
      ],
      { stdio: ['ignore', log.fd, log.fd] },
    );
    await log.close();
    const exited = new Promise<boolean>((resolve) => this.daemon!.once('exit', () => resolve(true)));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.docker('version');
        return;
      } catch (err) {
        const gone = await Promise.race([exited, sleep(250).then(() => false)]);
        if (gone || attempt > 240) throw new Error(`dockerd did not start; see ${join(this.dir, 'dockerd.log')}`, { cause: err });
      }
    }
  }

  async docker(...args: string[]): Promise<string> {
    return (await execFileAsync('docker', args, { env: this.env, maxBuffer: 16 << 20 })).stdout;
  }

  async stop(): Promise<void> {
    if (!this.daemon || this.daemon.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.daemon!.once('exit', () => resolve()));
    this.daemon.kill('SIGTERM');
    await exited;
  }
}

