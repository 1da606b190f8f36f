/** Unpacking images brought into the store (import, pull, load) right away, as `docker pull` does. */
import { hostPlatform } from '../image/platform.js';
import type { Descriptor } from '../image/types.js';
import { unpackImage } from '../solver/layers.js';
import { readImage } from '../store/images.js';
import type { Store } from '../store/store.js';
import type { CliContext } from './context.js';

/**
 * Unpacks the image for this machine's platform (an index without it is left packed). A failure here
 * loses nothing — the image is stored and the first build unpacks it — so it is reported, not raised.
 */
export async function unpackForThisMachine(store: Store, root: Descriptor, ctx: CliContext): Promise<void> {
  let image;
  try {
    image = await readImage(store, root, hostPlatform());
  } catch {
    return;
  }
  try {
    await unpackImage(store, image, `image ${root.digest}`);
  } catch (err) {
    ctx.err(`warning: the image is stored but could not be unpacked yet (the first build will): ${(err as Error).message}\n`);
  }
}
