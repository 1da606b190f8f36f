/**
 * RUN steps for a foreign architecture run under QEMU user-mode emulation through the kernel's
 * binfmt_misc. gantry never runs QEMU itself: it checks that a handler for the architecture is
 * registered with the fix-binary flag (so the interpreter works inside a container's root), and
 * `gantry setup binfmt` registers Debian's qemu-user-static handlers.
 */
import { access, readFile } from 'node:fs/promises';
import { formatPlatform, hostPlatform, type Platform } from '../image/index.js';
import { GantryError, runTool } from '../util/index.js';

const BINFMT_DIR = '/proc/sys/fs/binfmt_misc';

/** Debian's binfmt handler name per OCI architecture (and arm variant). */
const QEMU_HANDLERS: Record<string, string> = {
  amd64: 'qemu-x86_64',
  arm64: 'qemu-aarch64',
  arm: 'qemu-arm',
  '386': 'qemu-i386',
  ppc64le: 'qemu-ppc64le',
  s390x: 'qemu-s390x',
  riscv64: 'qemu-riscv64',
  mips64le: 'qemu-mips64el',
  loong64: 'qemu-loongarch64',
};

/** Architectures the host CPU runs without emulation. */
function nativeArchitectures(host: Platform): Set<string> {
  if (host.architecture === 'amd64') return new Set(['amd64', '386']);
  if (host.architecture === 'arm64') return new Set(['arm64']);
  return new Set([host.architecture]);
}

export function needsEmulation(platform: Platform, host: Platform = hostPlatform()): boolean {
  return platform.os !== host.os || !nativeArchitectures(host).has(platform.architecture);
}

export interface HandlerStatus {
  handler: string;
  registered: boolean;
  enabled: boolean;
  fixBinary: boolean;
  interpreter?: string;
}

export async function handlerStatus(platform: Platform, binfmtDir = BINFMT_DIR): Promise<HandlerStatus | undefined> {
  const handler = QEMU_HANDLERS[platform.architecture];
  if (!handler) return undefined;
  let text: string;
  try {
    text = await readFile(`${binfmtDir}/${handler}`, 'utf8');
  } catch {
    return { handler, registered: false, enabled: false, fixBinary: false };
  }
  const interpreter = /^interpreter (.+)$/m.exec(text)?.[1];
  return {
    handler,
    registered: true,
    enabled: /^enabled$/m.test(text),
    fixBinary: /^flags: .*F/m.test(text),
    ...(interpreter ? { interpreter } : {}),
  };
}

/** Fails, before anything runs, when RUN steps for `platform` cannot be executed on this machine. */
export async function requireEmulation(platform: Platform, binfmtDir = BINFMT_DIR): Promise<void> {
  if (!needsEmulation(platform)) return;
  const name = formatPlatform(platform);
  if (platform.os !== 'linux') {
    throw new GantryError(`RUN steps for ${name} cannot run on this machine`, { hint: 'only linux platforms can be emulated' });
  }
  const status = await handlerStatus(platform, binfmtDir);
  if (!status) {
    throw new GantryError(`RUN steps for ${name} need an emulator, and gantry knows none for ${platform.architecture}`, {
      hint: 'build this platform on a machine of that architecture, or avoid RUN in its stages',
    });
  }
  if (!status.registered || !status.enabled) {
    throw new GantryError(`RUN steps for ${name} need QEMU emulation, but no binfmt_misc handler for ${status.handler} is ${status.registered ? 'enabled' : 'registered'}`, {
      hint: 'run `gantry setup binfmt` as root (it needs the qemu-user-static package)',
    });
  }
  if (!status.fixBinary) {
    throw new GantryError(`the binfmt_misc handler ${status.handler} lacks the fix-binary (F) flag, so its interpreter is not found inside build containers`, {
      hint: 're-register it with `gantry setup binfmt` (Debian qemu-user-static registers it with F)',
    });
  }
}

export interface SetupReport {
  mounted: boolean;
  enabled: string[];
}

/** Mounts binfmt_misc when needed and enables every qemu-user-static handler Debian ships. Root only. */
export async function setupBinfmt(): Promise<SetupReport> {
  if (process.getuid?.() !== 0) throw new GantryError('gantry setup binfmt must run as root', { hint: 'binfmt_misc handlers are system-wide' });
  let mounted = false;
  try {
    await access(`${BINFMT_DIR}/register`);
  } catch {
    await runTool('mount', ['-t', 'binfmt_misc', 'binfmt_misc', BINFMT_DIR], 'mounting binfmt_misc');
    mounted = true;
  }
  const enabled: string[] = [];
  for (const handler of new Set(Object.values(QEMU_HANDLERS))) {
    try {
      await access(`/usr/share/binfmts/${handler}`);
    } catch {
      continue;
    }
    await runTool('update-binfmts', ['--enable', handler], `enabling ${handler}`, { package: 'binfmt-support' }).catch((err: unknown) => {
      // Already enabled is fine; anything else is reported below by the status check.
      if (!(err instanceof GantryError) || !/already enabled/.test(err.message)) throw err;
    });
    enabled.push(handler);
  }
  if (enabled.length === 0) {
    throw new GantryError('no QEMU binfmt handlers are installed', { hint: 'install the qemu-user-static package (scripts/install-deps.sh does)' });
  }
  return { mounted, enabled };
}
