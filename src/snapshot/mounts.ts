/**
 * Kernel mounts for snapshots, through util-linux mount(8)/umount(8). Drivers describe their mounts as
 * data (MountSpec) and `applyMounts` performs them, so a caller may inspect or hand on a snapshot's
 * mounts without a driver doing it. Mount points carry our pid in their name so that a later gantry
 * process can unmount what a killed one left mounted.
 */
import { readFile } from 'node:fs/promises';
import { GantryError, tryTool } from '../util/index.js';

/** A mount as data: what to mount, not where (the target is given when it is applied). */
export interface MountSpec {
  type: 'overlay' | 'bind';
  /** For a bind mount, the directory mounted; for overlay, a name for /proc/mounts. */
  source: string;
  /** Mount options (`ro`, or overlay's lowerdir/upperdir/workdir). */
  options: string[];
  /**
   * Where relative paths in `options` start: overlay layer paths are given relative to it to keep the
   * option string short, since the kernel limits mount options to one page.
   */
  cwd?: string;
}

/** An overlay of `lowerDirs` (topmost first), writable when `upper` is given, read-only otherwise. */
export function overlaySpec(lowerDirs: string[], cwd: string, upper?: { upperDir: string; workDir: string }): MountSpec {
  const options = [`lowerdir=${lowerDirs.join(':')}`];
  if (upper) options.push(`upperdir=${upper.upperDir}`, `workdir=${upper.workDir}`);
  options.push('index=off', 'redirect_dir=off');
  return { type: 'overlay', source: 'overlay', options, cwd };
}

export function bindSpec(source: string, readonly: boolean): MountSpec {
  return { type: 'bind', source, options: readonly ? ['ro'] : [] };
}

let volatileSupported = true;

/** Mounts `mounts` in order at `target`. */
export async function applyMounts(mounts: MountSpec[], target: string): Promise<void> {
  for (const mount of mounts) {
    if (mount.type === 'bind') await mountBind(mount, target);
    else await mountOverlay(mount, target);
  }
}

async function mountBind(mount: MountSpec, target: string): Promise<void> {
  // util-linux makes `--bind -o ro` read-only with the remount the kernel needs.
  const args = ['--bind', ...(mount.options.length > 0 ? ['-o', mount.options.join(',')] : []), mount.source, target];
  const { code, stderr } = await tryTool('mount', args, 'bind-mounting a snapshot', { package: 'mount' });
  if (code !== 0) throw new GantryError(`bind-mounting a snapshot failed: ${stderr}`, { hint: 'gantry needs to mount file systems here (root, or a user namespace that allows it)' });
}

async function mountOverlay(mount: MountSpec, target: string): Promise<void> {
  const writable = mount.options.some((option) => option.startsWith('upperdir='));
  // volatile: no sync of the whole upper filesystem at unmount (see committed.ts on why that is safe).
  const options = writable && volatileSupported ? [...mount.options, 'volatile'] : mount.options;
  const optionString = options.join(',');
  if (optionString.length > 4000) {
    const layers = (mount.options[0] ?? '').split(':').length;
    throw new GantryError(`this image has too many layers (${layers}) for one overlay mount`, {
      hint: 'squash some layers, or use the copy snapshotter (GANTRY_SNAPSHOTTER=native)',
    });
  }
  const { code, stderr } = await tryTool('mount', ['-t', 'overlay', mount.source, '-o', optionString, target], 'mounting an overlay', { cwd: mount.cwd, package: 'mount' });
  if (code !== 0 && writable && volatileSupported) {
    // Kernels before 5.10 do not know `volatile`: mount without it from now on.
    volatileSupported = false;
    return mountOverlay(mount, target);
  }
  if (code !== 0) throw new GantryError(`overlay mount failed: ${stderr}`, { hint: 'the kernel must allow overlay mounts here; GANTRY_SNAPSHOTTER=native uses copies instead' });
}

export async function unmount(target: string): Promise<void> {
  const { code, stderr } = await tryTool('umount', [target], 'unmounting', { package: 'mount' });
  if (code === 0) return;
  // Busy (a process still inside): detach it so the next step is not blocked; the kernel frees it later.
  const lazy = await tryTool('umount', ['-l', target], 'unmounting', { package: 'mount' });
  if (lazy.code !== 0) throw new GantryError(`could not unmount ${target}: ${stderr}`);
}

/** Mount points under `prefix`, from /proc/self/mountinfo. */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((point) => point.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`));
}
