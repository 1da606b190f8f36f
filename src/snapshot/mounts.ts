/**
 * Kernel mounts for snapshots, through util-linux mount(8)/umount(8). Mount points carry our pid in
 * their name so that a later gantry process can unmount what a killed one left mounted.
 */
import { readFile } from 'node:fs/promises';
import { GantryError } from '../util/errors.js';
import { tryTool } from '../util/run-tool.js';

let volatileSupported = true;

/**
 * Mounts an overlay. Layer paths are given relative to `cwd` to keep the option string short: the
 * kernel limits mount options to one page, which bounds how many lower layers fit.
 */
export async function mountOverlay(target: string, lowerDirs: string[], upperDir: string, workDir: string, cwd: string): Promise<void> {
  const options = [`lowerdir=${lowerDirs.join(':')}`, `upperdir=${upperDir}`, `workdir=${workDir}`, 'index=off', 'redirect_dir=off'];
  // volatile: no sync of the whole upper filesystem at unmount (see the snapshotter on why that is safe).
  if (volatileSupported) options.push('volatile');
  const optionString = options.join(',');
  if (optionString.length > 4000) {
    throw new GantryError(`this image has too many layers (${lowerDirs.length}) for one overlay mount`, {
      hint: 'squash some layers, or use the copy snapshotter (GANTRY_SNAPSHOTTER=native)',
    });
  }
  let { code, stderr } = await tryTool('mount', ['-t', 'overlay', 'overlay', '-o', optionString, target], 'mounting an overlay', { cwd, package: 'mount' });
  if (code !== 0 && volatileSupported) {
    // Kernels before 5.10 do not know `volatile`: mount without it from now on.
    volatileSupported = false;
    return mountOverlay(target, lowerDirs, upperDir, workDir, cwd);
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
