/** The public interface of snapshot/: what other folders may use (see ARCHITECTURE.md). */
export { changeEntries, unpackLayer } from './layer-codec.js';
export { type ActiveSnapshot, openAllSnapshotters, openSnapshotter, type Snapshotter, type SnapshotterName, type SnapshotView } from './snapshotter.js';
