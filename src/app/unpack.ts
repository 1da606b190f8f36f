/** Unpacking images brought into the store (import, pull, load) right away, as `docker pull` does. */
import { hostPlatform, type Descriptor } from '../image/index.js';
import { unpackImage } from '../solver/index.js';
import { readImage, type Store } from '../store/index.js';

/**
 * Unpacks the image for this machine's platform (an index without it is left packed). A failure here
 * loses nothing — the image is stored and the first build unpacks it — so it is a warning, not an error.
 */
export async function unpackForThisMachine(store: Store, root: Descriptor, warn: (message: string) => void): Promise<void> {
  let image;
  try {
    image = await readImage(store, root, hostPlatform());
  } catch {
    return;
  }
  try {
    await unpackImage(store, image, `image ${root.digest}`);
  } catch (err) {
    warn(`the image is stored but could not be unpacked yet (the first build will): ${(err as Error).message}`);
  }
}
