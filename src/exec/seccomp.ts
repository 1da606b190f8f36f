/**
 * The seccomp filter of build containers. It follows Docker's default profile (moby
 * profiles/seccomp/default.json, the policy BuildKit applies to RUN): every system call fails with
 * EPERM unless a rule below allows it; calls that only a capability makes useful are allowed only when
 * the container holds that capability; clone may not create namespaces and clone3 fails with ENOSYS
 * (its flags live in memory a filter cannot read, so libc falls back to clone). The policy is written
 * here as data in our own shape, for the two host architectures gantry builds on (amd64 and arm64);
 * `seccompProfile` turns it into the runtime spec's `linux.seccomp` for one capability set.
 */
import { release } from 'node:os';
import { GantryError } from '../util/index.js';

/** Host architectures the policy covers, by their OCI names. */
export type HostArch = 'amd64' | 'arm64';

/** A condition on one argument of a call (registers, so no pointers are followed). */
type ArgCondition =
  | { index: number; op: 'eq' | 'ne'; value: number }
  /** `(arg & mask) == value`. */
  | { index: number; op: 'masked-eq'; mask: number; value: number };

interface Rule {
  names: string[];
  /** Allow the calls, or make them fail with this errno. */
  action: 'allow' | { errno: number };
  /** All must hold. */
  args?: ArgCondition[];
  /** Allowed only for these values of one argument (one spec rule per value, as the spec ORs rules). */
  argIn?: { index: number; values: number[] };
  /** The rule applies only when the container holds every one of these capabilities... */
  withCaps?: string[];
  /** ...and not when it holds any of these. */
  withoutCaps?: string[];
  /** Only on these hosts. */
  arches?: HostArch[];
  /** Only on kernels at least this version. */
  minKernel?: [number, number];
}

const EPERM = 1;
const ENOSYS = 38;
const AF_VSOCK = 40;
/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** Calls any process may make: files, memory, signals, time, sockets, IPC, scheduling of itself. */
const ORDINARY_CALLS = `
  accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
  clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
  clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
  epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
  eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
  fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
  flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
  ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid
  getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp
  getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
  get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid
  getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
  io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
  io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset
  landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek
  lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir
  mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
  mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget
  msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open
  openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
  ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64
  pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
  recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir
  rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
  rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
  sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
  sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64
  sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
  setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
  setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32
  setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn
  socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range
  syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime
  timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
  timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink
  unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`;

const words = (text: string): string[] => text.trim().split(/\s+/);

const POLICY: readonly Rule[] = [
  { names: words(ORDINARY_CALLS), action: 'allow' },
  // Before 4.8 ptrace could bypass the filter; since then a tracer is itself filtered.
  { names: ['process_vm_readv', 'process_vm_writev', 'ptrace'], action: 'allow', minKernel: [4, 8] },
  // vsock reaches the hypervisor host, outside any network namespace.
  { names: ['socket'], action: 'allow', args: [{ index: 0, op: 'ne', value: AF_VSOCK }] },
  // Linux, and Linux with ADDR_NO_RANDOMIZE / UNAME26 / both; 0xffffffff queries the persona.
  { names: ['personality'], action: 'allow', argIn: { index: 0, values: [0x0, 0x8, 0x20000, 0x20008, 0xffffffff] } },
  { names: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'], action: 'allow', arches: ['arm64'] },
  { names: ['arch_prctl'], action: 'allow', arches: ['amd64'] },
  { names: ['modify_ldt'], action: 'allow', arches: ['amd64'] },
  { names: ['open_by_handle_at'], action: 'allow', withCaps: ['CAP_DAC_READ_SEARCH'] },
  {
    names: words(`bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount
      open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare`),
    action: 'allow',
    withCaps: ['CAP_SYS_ADMIN'],
  },
  { names: ['clone'], action: 'allow', args: [{ index: 0, op: 'masked-eq', mask: CLONE_NAMESPACE_FLAGS, value: 0 }], withoutCaps: ['CAP_SYS_ADMIN'] },
  { names: ['clone3'], action: { errno: ENOSYS }, withoutCaps: ['CAP_SYS_ADMIN'] },
  { names: ['reboot'], action: 'allow', withCaps: ['CAP_SYS_BOOT'] },
  { names: ['chroot'], action: 'allow', withCaps: ['CAP_SYS_CHROOT'] },
  { names: ['delete_module', 'init_module', 'finit_module'], action: 'allow', withCaps: ['CAP_SYS_MODULE'] },
  { names: ['acct'], action: 'allow', withCaps: ['CAP_SYS_PACCT'] },
  { names: ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace'], action: 'allow', withCaps: ['CAP_SYS_PTRACE'] },
  { names: ['iopl', 'ioperm'], action: 'allow', withCaps: ['CAP_SYS_RAWIO'] },
  { names: ['settimeofday', 'stime', 'clock_settime', 'clock_settime64'], action: 'allow', withCaps: ['CAP_SYS_TIME'] },
  { names: ['vhangup'], action: 'allow', withCaps: ['CAP_SYS_TTY_CONFIG'] },
  { names: ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'], action: 'allow', withCaps: ['CAP_SYS_NICE'] },
  { names: ['syslog'], action: 'allow', withCaps: ['CAP_SYSLOG'] },
  { names: ['bpf'], action: 'allow', withCaps: ['CAP_BPF'] },
  { names: ['perf_event_open'], action: 'allow', withCaps: ['CAP_PERFMON'] },
];

/** The native architecture and the compatibility ABIs its kernel also runs (32-bit binaries, x32). */
const ARCHITECTURES: Record<HostArch, string[]> = {
  amd64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

/** `linux.seccomp` of the OCI runtime spec. */
export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: LinuxSyscallRule[];
}

export interface LinuxSyscallRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: string }>;
}

export interface ProfileHost {
  arch: HostArch;
  /** [major, minor] of the running kernel. */
  kernel: [number, number];
}

/** The filter for a container holding `capabilities` (its bounding set). */
export function seccompProfile(capabilities: readonly string[], host: ProfileHost = currentHost()): LinuxSeccomp {
  const caps = new Set(capabilities);
  const syscalls: LinuxSyscallRule[] = [];
  for (const rule of POLICY) {
    if (rule.withCaps && !rule.withCaps.every((cap) => caps.has(cap))) continue;
    if (rule.withoutCaps?.some((cap) => caps.has(cap))) continue;
    if (rule.arches && !rule.arches.includes(host.arch)) continue;
    if (rule.minKernel && compareVersions(host.kernel, rule.minKernel) < 0) continue;
    const action = rule.action === 'allow' ? { action: 'SCMP_ACT_ALLOW' } : { action: 'SCMP_ACT_ERRNO', errnoRet: rule.action.errno };
    const args = (rule.args ?? []).map(specArg);
    if (rule.argIn) {
      const { index, values } = rule.argIn;
      for (const value of values) syscalls.push({ names: rule.names, ...action, args: [...args, { index, value, op: 'SCMP_CMP_EQ' }] });
    } else {
      syscalls.push({ names: rule.names, ...action, ...(args.length > 0 ? { args } : {}) });
    }
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: EPERM, architectures: ARCHITECTURES[host.arch], syscalls };
}

function specArg(condition: ArgCondition): { index: number; value: number; valueTwo?: number; op: string } {
  switch (condition.op) {
    case 'eq':
      return { index: condition.index, value: condition.value, op: 'SCMP_CMP_EQ' };
    case 'ne':
      return { index: condition.index, value: condition.value, op: 'SCMP_CMP_NE' };
    case 'masked-eq':
      // The spec's masked comparison: `value` is the mask, `valueTwo` what the masked argument must equal.
      return { index: condition.index, value: condition.mask, valueTwo: condition.value, op: 'SCMP_CMP_MASKED_EQ' };
  }
}

function compareVersions(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

function currentHost(): ProfileHost {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : undefined;
  if (!arch) {
    throw new GantryError(`gantry's seccomp policy for build containers covers amd64 and arm64 hosts, not ${process.arch}`, {
      hint: 'build on an amd64 or arm64 machine',
    });
  }
  const [major = 0, minor = 0] = release().split(/[.-]/).map(Number);
  return { arch, kernel: [major, minor] };
}
