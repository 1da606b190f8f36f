import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLONE_NAMESPACE_FLAGS, seccompProfile, type LinuxSeccomp, type ProfileHost } from '../../src/exec/seccomp.js';
import { buildSpec } from '../../src/exec/spec.js';

const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
const amd64: ProfileHost = { arch: 'amd64', kernel: [6, 1] };
const arm64: ProfileHost = { arch: 'arm64', kernel: [6, 1] };

/** The rules naming `name`. */
function rulesFor(profile: LinuxSeccomp, name: string) {
  return profile.syscalls.filter((rule) => rule.names.includes(name));
}

/** Allowed whatever its arguments. */
function allowedOutright(profile: LinuxSeccomp, name: string): boolean {
  return rulesFor(profile, name).some((rule) => rule.action === 'SCMP_ACT_ALLOW' && !rule.args);
}

test('everything not listed fails with EPERM; amd64 and arm64 hosts filter their compatibility ABIs too', () => {
  const profile = seccompProfile(DEFAULT_CAPS, amd64);
  assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(profile.defaultErrnoRet, 1);
  assert.deepEqual(profile.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  assert.deepEqual(seccompProfile(DEFAULT_CAPS, arm64).architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  for (const name of ['read', 'openat', 'execve', 'futex', 'mmap', 'wait4', 'rt_sigreturn', 'io_uring_setup', 'setresuid', 'chown']) {
    assert.ok(allowedOutright(profile, name), `${name} is allowed`);
  }
  for (const name of ['kexec_load', 'swapon', 'pivot_root', 'add_key', 'keyctl', 'userfaultfd', 'name_that_does_not_exist']) {
    assert.equal(rulesFor(profile, name).length, 0, `${name} falls to the default action`);
  }
});

test('clone may not create namespaces (a masked-equal rule on its flags) and clone3 fails with ENOSYS', () => {
  assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
  const profile = seccompProfile(DEFAULT_CAPS, amd64);
  assert.deepEqual(rulesFor(profile, 'clone'), [
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
  ]);
  assert.deepEqual(rulesFor(profile, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
});

test('calls gated by a capability are allowed only with it', () => {
  const profile = seccompProfile(DEFAULT_CAPS, amd64);
  for (const name of ['mount', 'umount2', 'unshare', 'setns', 'bpf', 'perf_event_open', 'sethostname', 'fsopen', 'open_by_handle_at', 'reboot', 'init_module', 'acct', 'settimeofday', 'iopl', 'syslog', 'kcmp', 'mbind', 'vhangup']) {
    assert.equal(rulesFor(profile, name).length, 0, `${name} needs a capability build containers lack`);
  }
  // CAP_SYS_CHROOT is a default capability.
  assert.ok(allowedOutright(profile, 'chroot'));
  assert.equal(rulesFor(seccompProfile(DEFAULT_CAPS.filter((c) => c !== 'CAP_SYS_CHROOT'), amd64), 'chroot').length, 0);

  const admin = seccompProfile([...DEFAULT_CAPS, 'CAP_SYS_ADMIN'], amd64);
  for (const name of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3']) assert.ok(allowedOutright(admin, name), `${name} with CAP_SYS_ADMIN`);
  assert.equal(rulesFor(admin, 'clone').length, 1, 'no argument filter on clone with CAP_SYS_ADMIN');
  assert.ok(!rulesFor(admin, 'clone3').some((rule) => rule.action === 'SCMP_ACT_ERRNO'));
  assert.ok(allowedOutright(seccompProfile([...DEFAULT_CAPS, 'CAP_BPF'], amd64), 'bpf'));
  assert.ok(allowedOutright(seccompProfile([...DEFAULT_CAPS, 'CAP_SYS_PTRACE'], amd64), 'kcmp'));
});

test('ptrace and process_vm_* are allowed from kernel 4.8 on, or with CAP_SYS_PTRACE', () => {
  assert.ok(allowedOutright(seccompProfile(DEFAULT_CAPS, amd64), 'ptrace'));
  assert.ok(allowedOutright(seccompProfile(DEFAULT_CAPS, { arch: 'amd64', kernel: [4, 8] }), 'process_vm_readv'));
  const old: ProfileHost = { arch: 'amd64', kernel: [4, 4] };
  assert.equal(rulesFor(seccompProfile(DEFAULT_CAPS, old), 'ptrace').length, 0);
  assert.ok(allowedOutright(seccompProfile([...DEFAULT_CAPS, 'CAP_SYS_PTRACE'], old), 'ptrace'));
});

test('socket refuses AF_VSOCK; personality takes only the usual personas', () => {
  const profile = seccompProfile(DEFAULT_CAPS, amd64);
  assert.deepEqual(rulesFor(profile, 'socket'), [{ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] }]);
  const personas = rulesFor(profile, 'personality').map((rule) => {
    assert.equal(rule.args?.length, 1);
    assert.equal(rule.args[0]!.op, 'SCMP_CMP_EQ');
    return rule.args[0]!.value;
  });
  assert.deepEqual(personas, [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]);
});

test('architecture-specific calls follow the host', () => {
  const x86 = seccompProfile(DEFAULT_CAPS, amd64);
  const arm = seccompProfile(DEFAULT_CAPS, arm64);
  for (const name of ['arch_prctl', 'modify_ldt']) {
    assert.ok(allowedOutright(x86, name));
    assert.equal(rulesFor(arm, name).length, 0);
  }
  for (const name of ['set_tls', 'cacheflush', 'arm_fadvise64_64', 'breakpoint']) {
    assert.ok(allowedOutright(arm, name));
    assert.equal(rulesFor(x86, name).length, 0);
  }
});

test('the spec carries the filter for its capability set; an insecure container has none', () => {
  const base = {
    rootfs: '/rootfs',
    hostname: 'h',
    network: { kind: 'loopback' } as const,
    process: { args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [] },
    mounts: [],
  };
  const sandboxed = buildSpec({ ...base, insecure: false }) as { linux: { seccomp?: LinuxSeccomp } };
  assert.ok(sandboxed.linux.seccomp);
  assert.deepEqual(sandboxed.linux.seccomp.syscalls.find((rule) => rule.names.includes('clone'))?.args?.[0]?.value, CLONE_NAMESPACE_FLAGS);
  const insecure = buildSpec({ ...base, insecure: true }) as { linux: { seccomp?: LinuxSeccomp; maskedPaths: string[] }; process: { capabilities: { bounding: string[] } } };
  assert.equal(insecure.linux.seccomp, undefined);
  assert.deepEqual(insecure.linux.maskedPaths, []);
  assert.ok(insecure.process.capabilities.bounding.includes('CAP_SYS_ADMIN'));
});
