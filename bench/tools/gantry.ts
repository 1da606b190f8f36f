/** gantry, run as its users run the `gantry` command, on a store of its own. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GantryError } from '../../src/util/errors.js';
import type { GantryNetwork } from '../options.js';
import { removeStateDir, retireStateDir } from '../mounts.js';
import { runChecked, type CommandLine } from '../process.js';
import { architectureOf, BASE_IMAGE, baseRootfsTar, type BuildRequest, type BuildTool, type ToolSetting } from './tool.js';

/** This checkout's build. */
export const CHECKOUT_GANTRY = fileURLToPath(new URL('../../bin/gantry.js', import.meta.url));

/** How to run the gantry CLI `cli`, a .js file (run with this Node) or an executable, found at `entry`. */
function gantryInvocation(cli: string): { entry: string; invoke: (args: string[]) => CommandLine } {
  const entry = resolve(cli);
  if (!existsSync(entry)) throw new GantryError(`no gantry CLI at ${entry}`, { hint: 'build it first (npm run build)' });
  return { entry, invoke: (args) => (entry.endsWith('.js') ? { file: process.execPath, args: [entry, ...args] } : { file: entry, args }) };
}

/** The arguments of `gantry build` for a request, after the global options. */
export function gantryBuildArgs(request: BuildRequest, network: GantryNetwork): string[] {
  const platforms = request.platforms ? ['--platform', request.platforms.join(',')] : [];
  return ['build', '-q', '--network', network, ...platforms, '-t', request.tag, request.contextDir];
}

/**
 * Registers QEMU's binfmt_misc handlers with `gantry setup binfmt` (root; idempotent), so that RUN
 * steps of a foreign platform run, for every tool: the handlers are the kernel's. Gives its report.
 */
export async function setupEmulation(cli = CHECKOUT_GANTRY): Promise<string> {
  return (await runChecked(gantryInvocation(cli).invoke(['setup', 'binfmt']), 'gantry setup binfmt')).stdout.trim();
}

export async function openGantry(setting: ToolSetting, network: GantryNetwork, cli = CHECKOUT_GANTRY): Promise<BuildTool> {
  const { entry, invoke } = gantryInvocation(cli);
  const root = setting.stateDir;
  const gantry = (args: string[]) => invoke(['--root', root, ...args]);
  const importBase = (platform: string, name: string) =>
    runChecked(gantry(['import', '--platform', platform, '--change', 'CMD ["sh"]', baseRootfsTar(setting, platform), name]), `gantry import of the ${platform} base image`);
  const version = (await runChecked(invoke(['--version']), 'gantry --version')).stdout.trim();
  const runc = (await runChecked({ file: 'runc', args: ['--version'] }, 'runc --version')).stdout.split('\n')[0].replace(/^runc version /, '');
  return {
    name: 'gantry',
    title: 'gantry',
    setup: `gantry --root DIR build -q --network ${network} [--platform P1,P2] -t TAG CONTEXT (RUN under runc with Docker's default seccomp policy, overlay snapshots)`,
    versions: async () => ({ gantry: entry === CHECKOUT_GANTRY ? version : `${version} (${entry})`, node: process.version, runc }),
    async resetToBase(platforms) {
      await retireStateDir(root, setting.trashDir);
      if (platforms === undefined) {
        await importBase(setting.hostPlatform, BASE_IMAGE);
        return;
      }
      const perPlatform = platforms.map((platform) => `busybox-${architectureOf(platform)}:latest`);
      for (const [index, platform] of platforms.entries()) await importBase(platform, perPlatform[index] as string);
      await runChecked(gantry(['manifest', 'create', '--local', BASE_IMAGE, ...perPlatform]), 'gantry manifest create of the base image index');
    },
    buildCommand: (request) => gantry(gantryBuildArgs(request, network)),
    async runInImage(tag, platform, script) {
      const platformFlag = platform === undefined ? [] : ['--platform', platform];
      return (await runChecked(gantry(['run', ...platformFlag, tag, 'sh', '-c', script]), `gantry run of ${tag}`)).stdout;
    },
    close: () => removeStateDir(root),
  };
}
