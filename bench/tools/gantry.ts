/** gantry, run as its users run the `gantry` command, on a store of its own. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GantryError } from '../../src/util/errors.js';
import { removeStateDir } from '../mounts.js';
import { runChecked, type CommandLine } from '../process.js';
import { BASE_IMAGE, type BuildTool, type ToolSetting } from './tool.js';

/** This checkout's build. */
export const CHECKOUT_GANTRY = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** `cli` is a gantry main.js (run with this Node) or an executable. */
export async function openGantry(setting: ToolSetting, cli = CHECKOUT_GANTRY): Promise<BuildTool> {
  const entry = resolve(cli);
  if (!existsSync(entry)) throw new GantryError(`no gantry CLI at ${entry}`, { hint: 'build it first (npx tsc -p .)' });
  const invoke = (args: string[]): CommandLine =>
    entry.endsWith('.js') ? { file: process.execPath, args: [entry, ...args] } : { file: entry, args };
  const root = setting.stateDir;
  const gantry = (args: string[]) => invoke(['--root', root, ...args]);
  const version = (await runChecked(invoke(['--version']), 'gantry --version')).stdout.trim();
  const runc = (await runChecked({ file: 'runc', args: ['--version'] }, 'runc --version')).stdout.split('\n')[0].replace(/^runc version /, '');
  return {
    name: 'gantry',
    title: 'gantry',
    setup: 'gantry --root DIR build -q -t TAG CONTEXT (RUN under runc, overlay snapshots)',
    versions: async () => ({ gantry: entry === CHECKOUT_GANTRY ? version : `${version} (${entry})`, node: process.version, runc }),
    async resetToBase() {
      await removeStateDir(root);
      await runChecked(gantry(['import', '--platform', setting.platform, '--change', 'CMD ["sh"]', setting.baseRootfsTar, BASE_IMAGE]), 'gantry import of the base image');
    },
    buildCommand: (contextDir, tag) => gantry(['build', '-q', '-t', tag, contextDir]),
    close: () => removeStateDir(root),
  };
}
