/**
 * BuildKit as Debian's Docker engine runs it: a private `dockerd --iptables=false --bridge=none`
 * (its own data root, exec root, pid file and socket), builds with `DOCKER_BUILDKIT=1 docker build
 * --network=host` from Debian's client, which speaks BuildKit without buildx. A cold state is a
 * daemon started on an empty data root into which the base image was `docker import`ed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GantryError } from '../../src/util/errors.js';
import { parseProcStat } from '../memory.js';
import { removeStateDir, retireStateDir } from '../mounts.js';
import { runChecked, type CommandLine } from '../process.js';
import { BASE_IMAGE, baseRootfsTar, type BuildTool, type ToolSetting } from './tool.js';

/** Debian's client; another `docker` on the PATH may need buildx for BuildKit. */
const DOCKER_CLIENT = '/usr/bin/docker';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

export async function openBuildKit(setting: ToolSetting): Promise<BuildTool> {
  if (!existsSync(DOCKER_CLIENT)) {
    throw new GantryError(`BuildKit cannot run: ${DOCKER_CLIENT} is missing`, { hint: 'install Debian docker.io (bash scripts/install-deps.sh)' });
  }
  const daemon = new PrivateDockerd(setting.stateDir, setting.trashDir);
  await daemon.start();
  const docker = (args: string[]): CommandLine => ({
    file: DOCKER_CLIENT,
    args: ['-H', daemon.host, ...args],
    env: { DOCKER_BUILDKIT: '1', DOCKER_CONFIG: daemon.clientConfigDir },
  });
  return {
    name: 'buildkit',
    title: 'BuildKit',
    setup: 'dockerd --iptables=false --bridge=none (private roots); DOCKER_BUILDKIT=1 docker build --network=host -q -t TAG CONTEXT',
    async versions() {
      const version = await runChecked(docker(['version', '--format', '{{.Client.Version}} / {{.Server.Version}}']), 'docker version');
      return { 'docker client / engine': version.stdout.trim() };
    },
    async resetToBase(platforms) {
      if (platforms !== undefined) throw noMultiPlatform();
      await daemon.stop();
      await daemon.start();
      await runChecked(docker(['import', '--change', 'CMD ["sh"]', baseRootfsTar(setting, setting.hostPlatform), BASE_IMAGE]), 'docker import of the base image');
    },
    buildCommand(request) {
      if (request.platforms !== undefined) throw noMultiPlatform();
      return docker(['build', '--network=host', '-q', '-t', request.tag, request.contextDir]);
    },
    async close() {
      await daemon.stop();
      await removeStateDir(setting.stateDir);
    },
  };
}

/** Docker 20.10 takes one platform per build (`--platform a,b` is "an invalid component"), and its image store holds no index. */
function noMultiPlatform(): GantryError {
  return new GantryError("BuildKit of Debian's Docker engine cannot build several platforms into its image store", {
    hint: 'leave BuildKit out of multi-platform workloads',
  });
}

class PrivateDockerd {
  readonly host: string;
  readonly clientConfigDir: string;
  private readonly dataRoot: string;
  private readonly execRoot: string;
  private readonly pidFile: string;
  private readonly configFile: string;
  private readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    stateDir: string,
    private readonly trashDir: string,
  ) {
    this.host = `unix://${join(stateDir, 'docker.sock')}`;
    this.clientConfigDir = join(stateDir, 'client');
    this.dataRoot = join(stateDir, 'data');
    this.execRoot = join(stateDir, 'exec');
    this.pidFile = join(stateDir, 'dockerd.pid');
    this.configFile = join(stateDir, 'daemon.json');
    this.logFile = join(stateDir, 'dockerd.log');
  }

  /** Starts on an empty data root and waits until the API answers. */
  async start(): Promise<void> {
    await retireStateDir(this.dataRoot, this.trashDir);
    await retireStateDir(this.execRoot, this.trashDir);
    await mkdir(this.clientConfigDir, { recursive: true });
    // An empty configuration, so that the machine's /etc/docker/daemon.json does not apply.
    await writeFile(this.configFile, '{}\n');
    const log = await open(this.logFile, 'a');
    const args = [
      '--iptables=false',
      '--bridge=none',
      '--config-file', this.configFile,
      '--data-root', this.dataRoot,
      '--exec-root', this.execRoot,
      '--pidfile', this.pidFile,
      '-H', this.host,
    ];
    // Its own process group: a Ctrl-C reaches the harness, which stops the daemon after the build.
    const child = spawn('dockerd', args, { stdio: ['ignore', log.fd, log.fd], detached: true });
    let exitReason: string | undefined;
    // Listening before anything else is awaited: a dockerd that cannot start reports it at once.
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitReason = signal ? `killed by ${signal}` : `exited ${code}`;
        resolve();
      });
      child.once('error', (err) => {
        exitReason = `could not be started: ${err.message}`;
        resolve();
      });
    });
    this.child = child;
    await log.close();
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exitReason !== undefined) break;
      const ready = await runChecked({ file: DOCKER_CLIENT, args: ['-H', this.host, 'version'], env: { DOCKER_CONFIG: this.clientConfigDir } }, 'docker version').then(
        () => true,
        () => false,
      );
      if (ready) return;
      await sleep(200);
    }
    await this.stop();
    const logTail = (await readFile(this.logFile, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
    throw new GantryError(`BuildKit cannot run: dockerd ${exitReason ?? `did not answer within ${READY_TIMEOUT_MS / 1000}s`}\n${logTail}`);
  }

  /** Stops the daemon (and the containerd it started) and waits for it. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // An unreferenced timer: it must not hold the harness open once the daemon has stopped.
      const stopped = await Promise.race([this.exited.then(() => true), sleep(STOP_TIMEOUT_MS, false, { ref: false })]);
      if (!stopped) {
        child.kill('SIGKILL');
        await this.exited;
      }
    }
    await this.stopOrphanedContainerd();
  }

  /** dockerd stops its containerd on a clean exit; after a forced stop, containerd is still ours to end. */
  private async stopOrphanedContainerd(): Promise<void> {
    const pidText = await readFile(join(this.execRoot, 'containerd', 'containerd.pid'), 'utf8').catch(() => '');
    const pid = Number(pidText.trim());
    if (!Number.isInteger(pid) || pid <= 0) return;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    // Only the containerd whose configuration lies under this daemon's exec root.
    if (!cmdline.includes(this.execRoot)) return;
    process.kill(pid, 'SIGTERM');
    for (let waited = 0; waited < STOP_TIMEOUT_MS && (await isRunning(pid)); waited += 100) await sleep(100);
  }
}

/** Neither gone nor a zombie waiting to be reaped. */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && parseProcStat(stat).state !== 'Z';
}
