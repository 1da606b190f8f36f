/**
 * The build use case: in one store session, imports the caches asked for, has the solver build and
 * commit the image, writes the cache export and the outputs, names the image, and pushes it. Naming
 * comes after the outputs and the cache export, so a build that fails writing one of them (a full
 * disk) leaves the store's names as they were; the push comes last, from the named image.
 */
import { checkDockerfile, type CheckResult } from '../frontend/index.js';
import { hostPlatform } from '../image/index.js';
import { Progress, createProgressSink } from '../progress/index.js';
import type { RegistryOptions } from '../registry/index.js';
import { openSnapshotter } from '../snapshot/index.js';
import { BaseImages, type RemoteResolver, build, recordsToExport, type BuildOptions, type BuildResult, LayerStore } from '../solver/index.js';
import { readImage, type Store } from '../store/index.js';
import { GantryError } from '../util/index.js';
import { exportCache, importCache, type CacheSpec } from './cache-transfer.js';
import { writeOutput, type OutputSpec } from './outputs.js';
import { closeRegistryIfLoaded, loadRegistryUseCases } from './registry-loader.js';
import { withStore, type StoreAccess } from './session.js';

export interface BuildRequest extends Omit<BuildOptions, 'store' | 'resolveRemote'> {
  /** Names for the image in the store (full form); without any, the image is kept untagged. */
  tags: string[];
  outputs: OutputSpec[];
  /** Build caches to import before building, and where to export this build's cache. */
  cacheFrom: CacheSpec[];
  cacheTo?: CacheSpec;
  /** Push the image to each of its tags' registries after building. */
  push: boolean;
  /** Registry settings for base images, registry caches and the push. */
  registry: RegistryOptions;
}

export async function buildImage(access: StoreAccess, request: BuildRequest): Promise<BuildResult> {
  if (request.push && request.tags.length === 0) throw new GantryError('--push needs at least one -t name to push to');
  try {
    return await withStore(access, async (store) => {
      for (const spec of request.cacheFrom) {
        const { imported, refused } = await importCache(store, spec, request.registry);
        const refusal = refused > 0 ? ` (${refused} refused: their layer does not match their diff ID)` : '';
        request.progress.info(`imported ${imported} cache records from ${spec.type === 'local' ? spec.path : spec.ref}${refusal}`);
      }
      const result = await build({ ...request, store, resolveRemote: remoteResolver(request.registry) });
      if (request.cacheTo) {
        const spec = request.cacheTo;
        const exported = recordsToExport(result, spec.mode);
        await exportCache(store, exported, spec, request.registry);
        request.progress.info(`exported ${exported.length} cache records to ${spec.type === 'local' ? spec.path : spec.ref}`);
      }
      await writeOutputs(store, request, result);
      if (request.tags.length === 0) await store.refs.keepUntagged(result.descriptor);
      for (const tag of request.tags) await store.refs.set(tag, result.descriptor);
      if (request.push) {
        const { pushImage } = await loadRegistryUseCases();
        for (const tag of request.tags) await pushImage(store, tag, tag, request.registry);
      }
      return result;
    });
  } finally {
    await closeRegistryIfLoaded(request.registry);
  }
}

async function writeOutputs(store: Store, request: BuildRequest, result: BuildResult): Promise<void> {
  const layerStore = new LayerStore(store, { sourceDateEpoch: request.sourceDateEpoch });
  let snapshotter: ReturnType<typeof openSnapshotter> | undefined;
  for (const output of request.outputs) {
    if ((output.type === 'local' || output.type === 'tar') && result.layers.length > 1) {
      throw new GantryError(`--output type=${output.type} writes one filesystem, and this build has ${result.layers.length} platforms`, {
        hint: 'build one platform with --platform for a filesystem output, or use type=oci',
      });
    }
    await writeOutput(output, {
      store,
      root: result.descriptor,
      names: request.tags,
      layers: result.layers[0] ?? [],
      snapshotter: () => (snapshotter ??= openSnapshotter(store.snapshotsDir, request.snapshotter)),
      layerStore,
    });
  }
}

/** FROM pulling through the registry client, loaded on first use. */
function remoteResolver(registry: RegistryOptions): RemoteResolver {
  return async (store, ref, wanted) => {
    const { pullImage } = await loadRegistryUseCases();
    const pulled = await pullImage(store, ref, { ...registry, platform: wanted });
    return readImage(store, pulled.descriptor, wanted, ref);
  };
}

export interface CheckRequest extends Pick<BuildOptions, 'dockerfile' | 'buildArgs' | 'target' | 'platforms'> {
  registry: RegistryOptions;
}

export interface CheckOutcome extends CheckResult {
  /** Base images that could not be resolved ("ref: reason"): the checks that read their config were skipped. */
  unresolved: string[];
}

/**
 * `build --check`: BuildKit's checks, base images resolved as a build would (local store, then
 * registry) so that checks using their config run; one that cannot be resolved is reported and the
 * other checks still run.
 */
export async function checkBuild(access: StoreAccess, request: CheckRequest): Promise<CheckOutcome> {
  try {
    return await withStore(access, async (store) => {
      const baseImages = new BaseImages(store, { pull: false, resolveRemote: remoteResolver(request.registry), progress: new Progress(createProgressSink('quiet')) });
      const unresolved: string[] = [];
      const result = await checkDockerfile(request.dockerfile.text, {
        file: request.dockerfile.displayName,
        buildArgs: request.buildArgs,
        target: request.target,
        targetPlatform: request.platforms[0] ?? hostPlatform(),
        buildPlatform: hostPlatform(),
        resolveImage: async (ref, wanted) => {
          try {
            return await baseImages.resolve(ref, wanted);
          } catch (err) {
            unresolved.push(`${ref}: ${(err as Error).message.split('\n')[0]}`);
            return { ref, digest: '', platform: wanted, config: {} };
          }
        },
      });
      return { ...result, unresolved };
    });
  } finally {
    await closeRegistryIfLoaded(request.registry);
  }
}
