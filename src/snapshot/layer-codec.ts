/** The snapshot side of gantry's layer codec: filesystem changes → layer entries, and layer tar → directory. */
export { overlayUpperEntries, treeDiffEntries, type TreeDiffOptions } from './diff.js';
export { unpackLayer, type UnpackMode, type UnpackOptions, type UnpackResult } from './unpack.js';
