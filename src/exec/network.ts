/**
 * The sandbox network of build containers: a network namespace of their own with outbound access
 * through slirp4netns, user-mode TCP/IP that needs no bridge, veth or firewall rule on the host (so it
 * works for root and rootless alike). slirp4netns runs with --disable-host-loopback: services listening
 * only on the host's loopback stay out of reach, the host's other addresses and the outside world do
 * not. DNS goes through slirp's resolver at 10.0.2.3, which forwards to the host's.
 *
 * One namespace serves a whole build: a holder process (`unshare --net`, then `cat` reading a socket
 * from gantry) keeps it, slirp4netns is attached to it, and each container joins it by path. Both
 * processes exit when gantry closes their lifeline or is killed; the namespace goes with the last
 * process in it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { GantryError, findExecutable } from '../util/index.js';
import { stopHelper, waitUntilReady } from './helper-process.js';
import type { NetworkAttachment } from './spec.js';

/** slirp4netns's built-in resolver (with --configure, the default 10.0.2.0/24 network). */
const SLIRP_NAMESERVER = '10.0.2.3';
/** The MTU rootlesskit and Podman use with slirp4netns: fewer, larger packets through user space. */
const SLIRP_MTU = 65520;

/** Fails, naming the package and the alternatives, when slirp4netns is not installed. */
export async function requireSlirp4netns(): Promise<string> {
  const binary = await findExecutable('slirp4netns');
  if (!binary) {
    throw new GantryError('RUN steps use the default network (a namespace of their own with outbound access through slirp4netns), but slirp4netns is not installed', {
      hint: 'install the slirp4netns package (scripts/install-deps.sh does), or build with --network none (no network) or --network host (the host\'s network)',
    });
  }
  return binary;
}

export class SandboxNetwork {
  private constructor(
    private readonly holder: ChildProcess,
    private readonly slirp: ChildProcess,
  ) {}

  /** Creates the namespace and starts slirp4netns in it; resolves once the interface is configured. */
  static async start(): Promise<SandboxNetwork> {
    const slirpBinary = await requireSlirp4netns();
    // The holder says it is ready only after unshare succeeded: slirp4netns must never configure the host's namespace.
    const holder = spawn('unshare', ['--net', '--', 'sh', '-c', 'echo ready && exec cat'], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      await waitUntilReady(holder, holder.stdout!, 'creating the build network namespace (unshare --net)', 'util-linux');
    } catch (err) {
      holder.stdin!.destroy();
      throw err;
    }
    const slirp = spawn(
      slirpBinary,
      ['--configure', `--mtu=${SLIRP_MTU}`, '--disable-host-loopback', '--ready-fd=3', '--exit-fd=4', String(holder.pid), 'tap0'],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    try {
      await waitUntilReady(slirp, slirp.stdio[3] as Socket, 'starting slirp4netns for the build network', 'slirp4netns');
    } catch (err) {
      (slirp.stdio[4] as Socket | null)?.destroy();
      await stopHelper(holder, holder.stdin!);
      throw err;
    }
    return new SandboxNetwork(holder, slirp);
  }

  /** How containers join this network. */
  get attachment(): NetworkAttachment {
    return { kind: 'join', path: `/proc/${this.holder.pid}/ns/net`, nameservers: [SLIRP_NAMESERVER] };
  }

  async close(): Promise<void> {
    await Promise.all([stopHelper(this.slirp, this.slirp.stdio[4] as Socket), stopHelper(this.holder, this.holder.stdin!)]);
  }
}
