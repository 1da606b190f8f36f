/**
 * Buildah (Debian's `buildah`) with a storage root and run root of its own: `buildah build --layers`,
 * RUN under runc with OCI isolation and the host network (as gantry's default and BuildKit's
 * --network=host), base images from local storage only.
 */
import { join } from 'node:path';
import { GantryError } from '../../src/util/errors.js';
import { removeStateDir } from '../mounts.js';
import { runChecked, type CommandLine } from '../process.js';
import { BASE_IMAGE, type BuildTool, type ToolSetting } from './tool.js';

export async function openBuildah(setting: ToolSetting): Promise<BuildTool> {
  const storage = ['--root', join(setting.stateDir, 'root'), '--runroot', join(setting.stateDir, 'runroot'), '--storage-driver', 'overlay'];
  const buildah = (args: string[]): CommandLine => ({ file: 'buildah', args: [...storage, ...args] });
  const version = await runChecked({ file: 'buildah', args: ['--version'] }, 'buildah --version').catch((err: unknown) => {
    throw new GantryError(`Buildah cannot run: ${(err as Error).message}`, { hint: 'install it with bash scripts/install-deps.sh --bench' });
  });
  return {
    name: 'buildah',
    title: 'Buildah',
    setup: 'buildah --root DIR --runroot DIR --storage-driver overlay build --layers --runtime runc --isolation oci --network host --pull=never -q -t TAG CONTEXT',
    versions: async () => ({ buildah: version.stdout.trim().replace(/^buildah version /, '') }),
    async resetToBase() {
      await removeStateDir(setting.stateDir);
      // Like `docker import`: one layer from the tar, CMD ["sh"].
      const container = (await runChecked(buildah(['from', '--pull=never', 'scratch']), 'buildah from scratch')).stdout.trim();
      await runChecked(buildah(['add', container, setting.baseRootfsTar, '/']), 'buildah add of the base root filesystem');
      await runChecked(buildah(['config', '--cmd', '["sh"]', container]), 'buildah config');
      await runChecked(buildah(['commit', '--rm', '-q', container, `docker.io/library/${BASE_IMAGE}`]), 'buildah commit of the base image');
    },
    buildCommand: (contextDir, tag) =>
      buildah(['build', '--layers', '--runtime', 'runc', '--isolation', 'oci', '--network', 'host', '--pull=never', '-q', '-t', tag, contextDir]),
    close: () => removeStateDir(setting.stateDir),
  };
}
