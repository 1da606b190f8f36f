import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { isPidAlive } from './process.js';

/** A unique sibling path for a temporary file that will be renamed over `path`. */
export function tempSibling(path: string): string {
  return join(dirname(path), `.tmp-${basename(path)}-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** Whether `name` is a tempSibling of a process that no longer exists (a write it was killed in). */
export function isDeadTempSibling(name: string): boolean {
  const pid = Number(/^\.tmp-.+-(\d+)-[0-9a-f]{12}$/.exec(name)?.[1]);
  return Number.isInteger(pid) && pid > 0 && !isPidAlive(pid);
}

export interface AtomicWriteOptions {
  mode?: number;
  /**
   * fsync before the rename (default). Records that can be rebuilt — cache records, the stat cache —
   * skip it: a crash may lose them, and a lost or empty one is read as absent.
   */
  durable?: boolean;
}

/**
 * Writes `data` to `path` atomically: temp file in the same directory, fsync, rename.
 * Readers see the old file or the new one, never a partial write.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  const fh = await open(tmp, 'wx', options.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (options.durable !== false) await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
