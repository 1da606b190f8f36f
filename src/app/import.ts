/** `import`: an image from a root filesystem tarball, as `docker import` makes one. */
import { planBuild } from '../frontend/index.js';
import { decompressLayer, hostPlatform, normalizeReference, type ContainerConfig, type Descriptor, type Platform } from '../image/index.js';
import { commitImage, ingestLayer, unpackImage } from '../solver/index.js';
import { GantryError, isGantryError, rfc3339 } from '../util/index.js';
import { withStore, type StoreAccess } from './session.js';

export interface ImportRequest {
  /** The tar (plain or compressed) as a stream, and what to call it in messages and history. */
  source: AsyncIterable<Uint8Array>;
  sourceName: string;
  /** name[:tag]; without one the image is kept untagged. */
  name?: string;
  /** Dockerfile instructions applied to the config (CMD, ENV, ...). */
  changes: string[];
  message?: string;
  platform?: Platform;
  /** Seconds since the epoch for `created` (reproducible imports). */
  sourceDateEpoch?: number;
}

export async function importImage(access: StoreAccess, request: ImportRequest): Promise<Descriptor> {
  const platform = request.platform ?? hostPlatform();
  const config = await configFromChanges(request.changes, platform);
  return withStore(access, async (store) => {
    const layer = await ingestLayer(store, decompressLayer(request.source, request.sourceName));
    const created = rfc3339(request.sourceDateEpoch !== undefined ? request.sourceDateEpoch * 1000 : Date.now());
    const image = await commitImage(store, {
      platform,
      config,
      layers: [layer],
      history: [{ created, created_by: 'gantry import', comment: request.message ?? `Imported from ${request.sourceName}` }],
      created,
    });
    // As docker import: the layer is applied before the image is named, so a tar that cannot be
    // (entries leaving the root, a corrupt header) names nothing.
    try {
      await unpackImage(store, image, `imported ${request.sourceName}`);
    } catch (err) {
      if (!isGantryError(err)) throw err;
      throw new GantryError(`${request.sourceName} cannot be imported: ${err.message}`, { hint: err.hint ?? 'the file is not a root filesystem tar that can be applied; nothing was named', cause: err });
    }
    if (request.name) await store.refs.set(normalizeReference(request.name), image.descriptor);
    else await store.refs.keepUntagged(image.descriptor);
    return image.descriptor;
  });
}

/** --change instructions are applied by the Dockerfile frontend to an empty image, as in a one-stage build. */
async function configFromChanges(changes: string[], platform: Platform): Promise<ContainerConfig> {
  if (changes.length === 0) return {};
  for (const change of changes) {
    const instruction = (change.trim().split(/\s+/)[0] ?? '').toUpperCase();
    if (!['CMD', 'ENTRYPOINT', 'ENV', 'WORKDIR', 'USER', 'LABEL', 'EXPOSE', 'VOLUME', 'STOPSIGNAL', 'ONBUILD'].includes(instruction)) {
      throw new GantryError(`--change "${change}": ${instruction} cannot be applied by import`, {
        hint: 'import accepts CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, STOPSIGNAL and ONBUILD',
      });
    }
  }
  const plan = await planBuild(`FROM scratch\n${changes.join('\n')}\n`, {
    file: '--change',
    buildArgs: {},
    targetPlatform: platform,
    buildPlatform: hostPlatform(),
    resolveImage: () => Promise.reject(new Error('import changes never name a base image')),
  });
  const stage = plan.stages[plan.stages.length - 1];
  const last = stage.steps[stage.steps.length - 1];
  return last?.config ?? stage.baseConfig;
}
