/** Builds directory trees for the context tests. */
import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sha256File, type Digest } from '../../src/util/digest.js';

/**
 * Path → content. A string is a file; `{ link }` a symlink; `{ mode }` or `{ content, mode }` sets
 * permissions; a path ending in '/' is a directory.
 */
export type TreeSpec = Record<string, string | { link: string } | { content?: string; mode: number } | null>;

export async function makeTree(root: string, spec: TreeSpec): Promise<void> {
  for (const [path, value] of Object.entries(spec)) {
    const full = join(root, path);
    if (path.endsWith('/')) {
      await mkdir(full, { recursive: true });
      if (value !== null && typeof value === 'object' && 'mode' in value) await chmod(full, value.mode);
      continue;
    }
    await mkdir(dirname(full), { recursive: true });
    if (typeof value === 'string') await writeFile(full, value);
    else if (value !== null && 'link' in value) await symlink(value.link, full);
    else if (value !== null) {
      await writeFile(full, value.content ?? '');
      await chmod(full, value.mode);
    }
  }
}

/**
 * A fresh temporary directory, removed by the returned cleanup. `inMemory` puts it on /dev/shm when
 * there is one: creating tens of thousands of files on a disk-backed /tmp can take many seconds.
 */
export async function tempDir(inMemory = false): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const parent = inMemory && (await isWritableDirectory('/dev/shm')) ? '/dev/shm' : tmpdir();
  const dir = await mkdtemp(join(parent, 'gantry-context-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function isWritableDirectory(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** A file hasher that records which files it read. */
export function countingHasher(): { reads: string[]; hashFile: (path: string) => Promise<Digest> } {
  const reads: string[] = [];
  return {
    reads,
    hashFile: (path: string) => {
      reads.push(path);
      return sha256File(path);
    },
  };
}

/** A clock ten seconds ahead, so files written by the test are not racy for the stat cache. */
export const clockAhead = (): bigint => (BigInt(Date.now()) + 10_000n) * 1_000_000n;
