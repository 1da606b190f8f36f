/**
 * The build cache on disk: a record per step cache key (the layer the step produced), and per step
 * identity the inputs of its most recent build, so a miss can be explained by comparing inputs.
 *
 *   <store>/cache/records/<key hex>.json     CacheRecord
 *   <store>/cache/inputs/<identity hex>.json StepInputs (one per step identity: bounded by the
 *                                             number of distinct steps built; pruned by age)
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkDigest, digestHex, isDigest, type Digest } from '../util/digest.js';
import { errnoCode } from '../util/errors.js';
import { writeFileAtomic } from '../util/fs.js';

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

  async delete(key: Digest): Promise<void> {
    await rm(this.recordPath(key), { force: true });
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

  /** Removes input records not written for `maxAgeDays` days; returns bytes freed. */
  async pruneInputs(maxAgeDays: number): Promise<number> {
    let freed = 0;
    const cutoff = Date.now() - maxAgeDays * 86400_000;
    for (const name of await readdir(this.inputsDir).catch(() => [] as string[])) {
      const path = join(this.inputsDir, name);
      const st = await stat(path).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) {
        await rm(path, { force: true });
        freed += st.size;
      }
    }
    return freed;
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
