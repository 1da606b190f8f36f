/**
 * The store directory: an OCI image layout (oci-layout, index.json, blobs/) that skopeo and umoci
 * read as-is, plus gantry's own state beside it (snapshots, build cache, context stat caches).
 */
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { errnoCode, GantryError, isGantryError, quoteForMessage, writeFileAtomic } from '../util/index.js';
import { ContentStore } from './content.js';
import { ImageRefs } from './refs.js';
import { ReferrersIndex } from './referrers.js';

export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GANTRY_ROOT) return resolve(env.GANTRY_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/gantry';
  const dataHome = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(dataHome, 'gantry');
}

/**
 * The store holds root filesystems of images: setuid binaries, device nodes, secrets in flight. Only
 * its owner may enter it (Docker's data root is 0710, containerd's 0711 with snapshots 0700), so
 * another user of the machine can reach none of it through the store.
 */
const PRIVATE_MODE = 0o700;

/** Creates the store root private, and tightens one that an earlier version (or a user) left open. */
async function makePrivate(root: string): Promise<void> {
  const info = await stat(root);
  if (!info.isDirectory()) throw new GantryError(`the store path ${root} is not a directory`, { hint: 'choose another --root or GANTRY_ROOT' });
  if ((info.mode & 0o777) !== PRIVATE_MODE) await chmod(root, PRIVATE_MODE);
}

const LAYOUT_CONTENT = JSON.stringify({ imageLayoutVersion: '1.0.0' });

/**
 * The store is an OCI image layout of version 1.0.0. `oci-layout` holds nothing but that constant, so
 * a damaged one (not JSON) is written again; one that names another version is another tool's layout.
 */
async function checkLayoutFile(layoutFile: string, root: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(layoutFile, 'utf8');
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    await writeFileAtomic(layoutFile, LAYOUT_CONTENT);
    return;
  }
  let layout: unknown;
  try {
    layout = JSON.parse(text);
  } catch {
    await writeFileAtomic(layoutFile, LAYOUT_CONTENT);
    return;
  }
  const version = typeof layout === 'object' && layout !== null ? (layout as { imageLayoutVersion?: unknown }).imageLayoutVersion : undefined;
  if (version !== '1.0.0') {
    throw new GantryError(`${root} holds an OCI layout of unsupported version ${quoteForMessage(version)}`, {
      hint: 'gantry keeps its store as an OCI image layout 1.0.0; choose another --root',
    });
  }
}

export class Store {
  readonly content: ContentStore;
  readonly refs: ImageRefs;
  readonly referrers: ReferrersIndex;
  readonly snapshotsDir: string;
  readonly cacheDir: string;
  readonly contextCacheDir: string;
  readonly tmpDir: string;
  readonly locksDir: string;
  /** Persistent directories of RUN --mount=type=cache. */
  readonly cacheMountsDir: string;
  /** The container runtime's state and the bundles of running containers. */
  readonly runtimeDirs: { stateDir: string; bundlesDir: string };

  private constructor(readonly root: string) {
    this.content = new ContentStore(root);
    this.refs = new ImageRefs(root);
    this.referrers = new ReferrersIndex(root);
    this.snapshotsDir = join(root, 'snapshots');
    this.cacheDir = join(root, 'cache');
    this.contextCacheDir = join(root, 'context');
    this.tmpDir = join(root, 'tmp');
    this.locksDir = join(root, 'locks');
    this.cacheMountsDir = join(root, 'cache-mounts');
    this.runtimeDirs = { stateDir: join(root, 'runtime'), bundlesDir: join(root, 'runtime-bundles') };
  }

  static async open(root: string): Promise<Store> {
    const absolute = resolve(root);
    try {
      await mkdir(dirname(absolute), { recursive: true });
      await mkdir(absolute, { mode: PRIVATE_MODE }).catch((err: unknown) => {
        if (errnoCode(err) !== 'EEXIST') throw err;
      });
      await makePrivate(absolute);
      await mkdir(join(absolute, 'blobs', 'sha256'), { recursive: true });
    } catch (err) {
      if (isGantryError(err)) throw err;
      throw new GantryError(`cannot create the store at ${absolute}: ${(err as Error).message}`, {
        hint: errnoCode(err) === 'EACCES' ? 'choose a writable directory with --root or GANTRY_ROOT' : undefined,
      });
    }
    await checkLayoutFile(join(absolute, 'oci-layout'), absolute);
    const store = new Store(absolute);
    await Promise.all([store.snapshotsDir, store.cacheDir, store.contextCacheDir, store.tmpDir, store.locksDir].map((d) => mkdir(d, { recursive: true })));
    return store;
  }

  /** Held (shared) by every command that uses store content, and (exclusive) by prune. */
  get gcLockPath(): string {
    return join(this.locksDir, 'gc.lock');
  }
}
