/** The snapshot side of gantry's layer codec: filesystem changes → layer entries, and layer tar → directory. */
import type { LayerEntry } from '../image/index.js';
import { overlayUpperEntries, treeDiffEntries } from './diff.js';
import type { SnapshotChanges } from './snapshotter.js';

export { overlayUpperEntries, treeDiffEntries, type TreeDiffOptions } from './diff.js';
export { unpackLayer, type UnpackMode, type UnpackOptions, type UnpackResult } from './unpack.js';

/** The layer entries of a writable snapshot's changes, whichever driver made them. */
export function changeEntries(changes: SnapshotChanges): AsyncIterable<LayerEntry> {
  return changes.kind === 'overlay-upper' ? overlayUpperEntries(changes.upperDir) : treeDiffEntries(changes.lowerDir, changes.upperDir, { copiedAtNs: changes.copiedAtNs });
}
