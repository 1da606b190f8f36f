/**
 * The store directory: an OCI image layout (oci-layout, index.json, blobs/) that skopeo and umoci
 * read as-is, plus gantry's own state beside it (snapshots, build cache, context stat caches).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { errnoCode, GantryError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { ContentStore } from './content.js';
import { ImageRefs } from './refs.js';

export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GANTRY_ROOT) return resolve(env.GANTRY_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/gantry';
  const dataHome = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(dataHome, 'gantry');
}

export class Store {
  readonly content: ContentStore;
  readonly refs: ImageRefs;
  readonly snapshotsDir: string;
  readonly cacheDir: string;
  readonly contextCacheDir: string;
  readonly tmpDir: string;
  readonly locksDir: string;

  private constructor(readonly root: string) {
    this.content = new ContentStore(root);
    this.refs = new ImageRefs(root);
    this.snapshotsDir = join(root, 'snapshots');
    this.cacheDir = join(root, 'cache');
    this.contextCacheDir = join(root, 'context');
    this.tmpDir = join(root, 'tmp');
    this.locksDir = join(root, 'locks');
  }

  static async open(root: string): Promise<Store> {
    const absolute = resolve(root);
    try {
      await mkdir(join(absolute, 'blobs', 'sha256'), { recursive: true });
    } catch (err) {
      throw new GantryError(`cannot create the store at ${absolute}: ${(err as Error).message}`, {
        hint: errnoCode(err) === 'EACCES' ? 'choose a writable directory with --root or GANTRY_ROOT' : undefined,
      });
    }
    const layoutFile = join(absolute, 'oci-layout');
    try {
      const layout = JSON.parse(await readFile(layoutFile, 'utf8')) as { imageLayoutVersion?: string };
      if (layout.imageLayoutVersion !== '1.0.0') {
        throw new GantryError(`${absolute} holds an OCI layout of unsupported version ${layout.imageLayoutVersion}`);
      }
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      await writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    }
    const store = new Store(absolute);
    await Promise.all([store.snapshotsDir, store.cacheDir, store.contextCacheDir, store.tmpDir, store.locksDir].map((d) => mkdir(d, { recursive: true })));
    return store;
  }

  /** Held (shared) by every command that uses store content, and (exclusive) by prune. */
  get gcLockPath(): string {
    return join(this.locksDir, 'gc.lock');
  }
}
