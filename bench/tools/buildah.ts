/**
 * Buildah (Debian's `buildah`) with a storage root and run root of its own: `buildah build --layers`,
 * RUN under runc with OCI isolation and the host network (as gantry's default and BuildKit's
 * --network=host), base images from local storage only. Several platforms are built with
 * `--platform P1,P2 --manifest NAME` into a manifest list.
 */
import { join } from 'node:path';
import { GantryError } from '../../src/util/errors.js';
import { removeStateDir, retireStateDir } from '../mounts.js';
import { exitStatus, runChecked, type CommandLine } from '../process.js';
import { architectureOf, BASE_IMAGE, baseRootfsTar, type BuildRequest, type BuildTool, type ToolSetting } from './tool.js';

const RUN_FLAGS = ['--runtime', 'runc', '--isolation', 'oci', '--network', 'host'];

/** Buildah's name of an image committed under an unqualified name. */
function localName(tag: string): string {
  return `localhost/${tag}`;
}

/** The arguments of `buildah build` for a request, after the storage options. */
export function buildahBuildArgs(request: BuildRequest, hostPlatform: string): string[] {
  const common = ['build', '--layers', ...RUN_FLAGS, '--pull=never'];
  if (request.platforms === undefined) return [...common, '-q', '-t', request.tag, request.contextDir];
  return [
    ...common,
    '--platform', request.platforms.join(','),
    // Debian's Buildah 1.28 expands FROM --platform with --build-arg values only, not with the
    // automatic BUILDPLATFORM: without this, a `FROM --platform=$BUILDPLATFORM` stage is built
    // for each target platform, under emulation.
    '--build-arg', `BUILDPLATFORM=${hostPlatform}`,
    '--manifest', request.tag,
    '-q',
    request.contextDir,
  ];
}

export async function openBuildah(setting: ToolSetting): Promise<BuildTool> {
  const storage = ['--root', join(setting.stateDir, 'root'), '--runroot', join(setting.stateDir, 'runroot'), '--storage-driver', 'overlay'];
  const buildah = (args: string[]): CommandLine => ({ file: 'buildah', args: [...storage, ...args] });
  const version = await runChecked({ file: 'buildah', args: ['--version'] }, 'buildah --version').catch((err: unknown) => {
    throw new GantryError(`Buildah cannot run: ${(err as Error).message}`, { hint: 'install it with bash scripts/install-deps.sh --bench' });
  });
  /** Like `docker import`: one layer from the tar, CMD ["sh"]; with a platform, that architecture in the config. */
  const importBase = async (platform: string, name: string, recordPlatform: boolean) => {
    const container = (await runChecked(buildah(['from', '--pull=never', 'scratch']), 'buildah from scratch')).stdout.trim();
    await runChecked(buildah(['add', container, baseRootfsTar(setting, platform), '/']), 'buildah add of the base root filesystem');
    const platformFlags = recordPlatform ? ['--os', platform.split('/')[0] as string, '--arch', architectureOf(platform)] : [];
    await runChecked(buildah(['config', '--cmd', '["sh"]', ...platformFlags, container]), 'buildah config');
    await runChecked(buildah(['commit', '--rm', '-q', container, name]), 'buildah commit of the base image');
  };
  return {
    name: 'buildah',
    title: 'Buildah',
    setup:
      'buildah --root DIR --runroot DIR --storage-driver overlay build --layers --runtime runc --isolation oci --network host --pull=never ' +
      '-q -t TAG CONTEXT; several platforms: --platform P1,P2 --build-arg BUILDPLATFORM=HOST --manifest TAG instead of -t TAG',
    versions: async () => ({ buildah: version.stdout.trim().replace(/^buildah version /, '') }),
    async resetToBase(platforms) {
      await retireStateDir(setting.stateDir, setting.trashDir);
      const base = `docker.io/library/${BASE_IMAGE}`;
      if (platforms === undefined) {
        await importBase(setting.hostPlatform, base, false);
        return;
      }
      // A local manifest list under the base's name: Buildah 1.28 resolves it to the instance of
      // each build's platform; an image under that name serves only a build for its own platform
      // (for any other, `--pull=never` fails with "image not known").
      await runChecked(buildah(['manifest', 'create', base]), 'buildah manifest create of the base image list');
      for (const platform of platforms) {
        const image = `docker.io/library/busybox-${architectureOf(platform)}:latest`;
        await importBase(platform, image, true);
        await runChecked(buildah(['manifest', 'add', base, `containers-storage:${image}`]), `buildah manifest add of the ${platform} base image`);
      }
    },
    async beforeBuild(request) {
      // `--manifest NAME` adds to an existing list: the previous build's entries would stay beside the new ones.
      if (request.platforms === undefined) return;
      const name = localName(request.tag);
      if ((await exitStatus(buildah(['manifest', 'exists', name]))) === 0) {
        await runChecked(buildah(['manifest', 'rm', name]), 'buildah manifest rm of the previous build');
      }
    },
    buildCommand: (request) => buildah(buildahBuildArgs(request, setting.hostPlatform)),
    async runInImage(tag, platform, script) {
      const platformFlag = platform === undefined ? [] : ['--platform', platform];
      const container = (await runChecked(buildah(['from', '--pull=never', ...platformFlag, localName(tag)]), `buildah from ${tag}`)).stdout.trim();
      try {
        return (await runChecked(buildah(['run', ...RUN_FLAGS, container, '--', 'sh', '-c', script]), `buildah run in ${tag}`)).stdout;
      } finally {
        await runChecked(buildah(['rm', container]), 'buildah rm');
      }
    },
    close: () => removeStateDir(setting.stateDir),
  };
}
