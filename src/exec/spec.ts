/**
 * OCI runtime-spec generation for build containers, close to what BuildKit's runc worker uses:
 * Docker's default capabilities under Docker's default seccomp policy, masked /proc paths, private
 * /dev, /dev/shm, read-only /sys, generated /etc/hosts and /etc/resolv.conf bind-mounted (never
 * written into the layer). `insecure` is BuildKit's security=insecure: every capability gantry has,
 * no seccomp filter, nothing masked or read-only (/sys included).
 */
import { readFileSync } from 'node:fs';
import { seccompProfile } from './seccomp.js';
import { DEFAULT_PATH } from '../image/index.js';

export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface ProcessOptions {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
}

export interface SpecOptions {
  rootfs: string;
  process: ProcessOptions;
  hostname: string;
  network: NetworkAttachment;
  /** `RUN --security=insecure`: all capabilities, no seccomp filter, no masked or read-only paths. */
  insecure: boolean;
  /** Extra mounts (resolv.conf, hosts, RUN --mount ...), applied after the defaults. */
  mounts: SpecMount[];
}

/**
 * The container's network namespace: the host's, a new one with only loopback, or an existing one
 * (the build's sandbox network) joined by path, whose resolvers go in /etc/resolv.conf.
 */
export type NetworkAttachment = { kind: 'host' } | { kind: 'loopback' } | { kind: 'join'; path: string; nameservers: string[] };

const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Capability names by their number (linux/capability.h), through CAP_CHECKPOINT_RESTORE (40). */
const CAPABILITY_NUMBERS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

let allCapabilities: string[] | undefined;

/**
 * Every capability gantry itself may hold (its bounding set), as containerd gives a privileged
 * container: asking the runtime for one outside it fails, and a machine may withhold some.
 */
function currentCapabilities(): string[] {
  if (!allCapabilities) {
    const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    const mask = BigInt(`0x${bounding ?? '0'}`);
    allCapabilities = CAPABILITY_NUMBERS.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
  }
  return allCapabilities;
}

const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];

const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_MOUNTS: SpecMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
];

/** Mount points the runtime creates in the rootfs when they are missing (gantry removes them after). */
export const RUNTIME_MOUNT_POINTS = ['/proc', '/dev', '/sys'];

export function buildSpec(options: SpecOptions): Record<string, unknown> {
  const caps = options.insecure ? currentCapabilities() : DEFAULT_CAPABILITIES;
  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  const { network } = options;
  if (network.kind === 'loopback') namespaces.push({ type: 'network' });
  else if (network.kind === 'join') namespaces.push({ type: 'network', path: network.path });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: options.process.uid, gid: options.process.gid, additionalGids: options.process.additionalGids },
      args: options.process.args,
      env: options.process.env,
      cwd: options.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      // As in Docker builds: setuid programs (su, sudo) keep working inside RUN.
      noNewPrivileges: false,
    },
    root: { path: options.rootfs, readonly: false },
    hostname: options.hostname,
    mounts: [...(options.insecure ? DEFAULT_MOUNTS.map(writableSysfs) : DEFAULT_MOUNTS), ...options.mounts],
    linux: {
      namespaces,
      maskedPaths: options.insecure ? [] : MASKED_PATHS,
      readonlyPaths: options.insecure ? [] : READONLY_PATHS,
      ...(options.insecure ? {} : { seccomp: seccompProfile(caps) }),
    },
  };
}

/** An insecure container may write to /sys, as a privileged one does under containerd (and so BuildKit). */
function writableSysfs(mount: SpecMount): SpecMount {
  return mount.type === 'sysfs' ? { ...mount, options: mount.options.filter((option) => option !== 'ro') } : mount;
}

/** A process environment with Docker's default PATH when it sets none. */
export function withDefaultPath(env: string[]): string[] {
  return env.some((e) => e.startsWith('PATH=')) ? env : [`PATH=${DEFAULT_PATH}`, ...env];
}
