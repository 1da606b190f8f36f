/**
 * OCI runtime-spec generation for build containers, close to what BuildKit's runc worker uses:
 * Docker's default capabilities, masked /proc paths, private /dev, /dev/shm, read-only /sys,
 * generated /etc/hosts and /etc/resolv.conf bind-mounted (never written into the layer).
 */

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
  /** true: the host's network namespace; false: a new one with only loopback. */
  hostNetwork: boolean;
  /** `RUN --security=insecure`: all capabilities, no masked paths. */
  insecure: boolean;
  /** Extra mounts (resolv.conf, hosts, RUN --mount ...), applied after the defaults. */
  mounts: SpecMount[];
}

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

const ALL_CAPABILITIES = [
  ...DEFAULT_CAPABILITIES,
  'CAP_DAC_READ_SEARCH', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_IPC_LOCK',
  'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_LEASE',
  'CAP_AUDIT_CONTROL', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
];

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
  const caps = options.insecure ? ALL_CAPABILITIES : DEFAULT_CAPABILITIES;
  const namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (!options.hostNetwork) namespaces.push({ type: 'network' });
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
    mounts: [...DEFAULT_MOUNTS, ...options.mounts],
    linux: {
      namespaces,
      maskedPaths: options.insecure ? [] : MASKED_PATHS,
      readonlyPaths: options.insecure ? [] : READONLY_PATHS,
    },
  };
}
