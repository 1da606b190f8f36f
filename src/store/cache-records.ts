/**
 * The build cache on disk: a record per step cache key (the layer the step produced), and per step
 * identity the inputs of its most recent build, so a miss can be explained by comparing inputs.
 *
 *   <store>/cache/records/<key hex>.json     CacheRecord
 *   <store>/cache/inputs/<identity hex>.json StepInputs (one per step identity, rewritten at each
 *                                             build of the step; `prune --keep-cache` bounds them by
 *                                             age and total size, oldest first)
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkDigest, digestHex, isDigest, type Digest, errnoCode, writeFileAtomic } from '../util/index.js';

export interface LayerRecord {
  /** Compressed blob digest, size and media type as stored. */
  digest: Digest;
  size: number;
  mediaType: string;
  /** Uncompressed digest (what rootfs.diff_ids and chain IDs use). */
  diffId: Digest;
}

export interface CacheRecord {
  key: Digest;
  layer: LayerRecord;
  /** The step, for humans: "[build 2/5] RUN make". */
  description: string;
  createdAt: string;
  /** How long the step took when it ran, in seconds. */
  seconds: number;
}

/** What went into a step's key, kept so the next miss can name what changed. */
export interface StepInputs {
  key: Digest;
  parentKey: Digest;
  /** The expanded instruction (history form). */
  instruction: string;
  platform: string;
  /** The stage's base image, for the stage's first step. */
  base?: { name: string; digest: string };
  buildArgs: Array<[string, string]>;
  env: string[];
  /** Other definition fields (user, workdir, mounts, chown, ...) as strings. */
  fields: Record<string, string>;
  /** What the step read: a context selection's summary (opaque here), or the digest of a stage's or URL's content. */
  content?: StepContent;
}

export type StepContent =
  | { kind: 'selection'; summary: unknown }
  | { kind: 'digest'; what: string; digest: string };

export class CacheStore {
  private readonly recordsDir: string;
  private readonly inputsDir: string;

  constructor(cacheDir: string) {
    this.recordsDir = join(cacheDir, 'records');
    this.inputsDir = join(cacheDir, 'inputs');
  }

  /** Keys and identities become file names: only well-formed digests do. */
  private recordPath(key: Digest): string {
    return join(this.recordsDir, `${digestHex(checkDigest(key, 'cache key'))}.json`);
  }

  private inputsPath(identity: Digest): string {
    return join(this.inputsDir, `${digestHex(checkDigest(identity, 'step identity'))}.json`);
  }

  async get(key: Digest): Promise<CacheRecord | undefined> {
    return readJsonFile<CacheRecord>(this.recordPath(key));
  }

  async put(record: CacheRecord): Promise<void> {
    await writeFileAtomic(this.recordPath(record.key), JSON.stringify(record), { durable: false });
  }

  async list(): Promise<CacheRecord[]> {
    const records: CacheRecord[] = [];
    for (const name of await readdir(this.recordsDir).catch(() => [] as string[])) {
      const key = `sha256:${name.replace(/\.json$/, '')}`;
      if (!name.endsWith('.json') || !isDigest(key)) continue;
      const record = await this.get(key);
      if (record) records.push(record);
    }
    return records;
  }

  async getInputs(identity: Digest): Promise<StepInputs | undefined> {
    return readJsonFile<StepInputs>(this.inputsPath(identity));
  }

  async putInputs(identity: Digest, inputs: StepInputs): Promise<void> {
    await writeFileAtomic(this.inputsPath(identity), JSON.stringify(inputs), { durable: false });
  }

  /**
   * Bounds the step-input records (what miss explanations compare against): those not written for
   * `maxAgeDays` go, then the oldest until the rest fit in `maxBytes`. A removed record only makes
   * the next miss of its step say "first build of this step". Returns how many went and their bytes.
   */
  async pruneInputs(limits: { maxAgeDays: number; maxBytes: number }, now = Date.now()): Promise<{ records: number; bytes: number }> {
    const files: Array<{ path: string; mtimeMs: number; size: number }> = [];
    for (const name of await readdir(this.inputsDir).catch(() => [] as string[])) {
      const path = join(this.inputsDir, name);
      const st = await stat(path).catch(() => undefined);
      if (st?.isFile()) files.push({ path, mtimeMs: st.mtimeMs, size: st.size });
    }
    files.sort((a, b) => b.mtimeMs - a.mtimeMs);
    const cutoff = now - limits.maxAgeDays * 86400_000;
    let kept = 0;
    const removed = { records: 0, bytes: 0 };
    for (const file of files) {
      if (file.mtimeMs >= cutoff && kept + file.size <= limits.maxBytes) {
        kept += file.size;
        continue;
      }
      await rm(file.path, { force: true });
      removed.records++;
      removed.bytes += file.size;
    }
    return removed;
  }
}

/** A record that is missing, truncated or corrupt reads as absent: the step simply runs again. */
async function readJsonFile<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}
