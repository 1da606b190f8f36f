/** `run`: an image's command in a throwaway container on a writable snapshot of it, to check a build. */
import { openRuntime, withDefaultPath, type NetworkAttachment, resolveUser } from '../exec/index.js';
import type { Platform } from '../image/index.js';
import { openSnapshotter } from '../snapshot/index.js';
import { LayerStore, layerRecords } from '../solver/index.js';
import { findLocalImage } from '../store/index.js';
import { GantryError } from '../util/index.js';
import { noSuchImage } from './images.js';
import { withStore, type StoreAccess } from './session.js';

export interface RunRequest {
  image: string;
  /** Replaces the image's CMD. */
  command: string[];
  env: string[];
  user?: string;
  workdir?: string;
  /** Replaces the image's ENTRYPOINT ('' for none). */
  entrypoint?: string;
  network: 'host' | 'none';
  platform?: Platform;
  runtime: string;
  onOutput: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
}

/** Runs the command and returns its exit code; the container and its snapshot are always removed. */
export async function runImage(access: StoreAccess, request: RunRequest): Promise<number> {
  return withStore(access, async (store) => {
    const image = await findLocalImage(store, request.image, request.platform);
    if (!image) throw noSuchImage(request.image);
    const config = image.config.config ?? {};
    const entrypoint = request.entrypoint !== undefined ? (request.entrypoint === '' ? [] : [request.entrypoint]) : (config.Entrypoint ?? []);
    const cmd = request.command.length > 0 ? request.command : request.entrypoint !== undefined ? [] : (config.Cmd ?? []);
    const args = [...entrypoint, ...cmd];
    if (args.length === 0) throw new GantryError(`image ${request.image} has no command to run`, { hint: 'give a command after the image name' });

    const snapshotter = await openSnapshotter(store.snapshotsDir);
    await snapshotter.removeStale();
    const chain = await new LayerStore(store, {}).materialize(snapshotter, layerRecords(image, `image ${request.image}`));
    const active = await snapshotter.prepare(chain);
    try {
      const rootfs = await active.mount();
      const user = await resolveUser(rootfs, request.user ?? config.User ?? '');
      const runtime = await openRuntime(request.runtime, store.runtimeDirs);
      const network: NetworkAttachment = request.network === 'host' ? { kind: 'host' } : { kind: 'loopback' };
      const result = await runtime.run({
        spec: {
          rootfs,
          hostname: 'gantry',
          network,
          insecure: false,
          process: {
            args,
            env: withDefaultPath([...(config.Env ?? []), ...request.env]),
            cwd: request.workdir ?? (config.WorkingDir || '/'),
            uid: user.uid,
            gid: user.gid,
            additionalGids: user.additionalGids,
          },
        },
        onOutput: request.onOutput,
      });
      return result.exitCode;
    } finally {
      await active.remove();
    }
  });
}
