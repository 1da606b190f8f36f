/**
 * Inter-process locks on files in the store, with the kernel's flock(2). Node cannot call flock, so
 * util-linux `flock` takes the lock on a descriptor it inherits from us and exits; the lock belongs
 * to the open file, which we keep open until release. A gantry process killed at any moment closes
 * its files and so releases its locks — no stale lock files to clean up, no holder process.
 */
import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GantryError } from '../util/index.js';

export type LockMode = 'shared' | 'exclusive';

export interface HeldLock {
  release(): Promise<void>;
}

export async function acquireLock(path: string, mode: LockMode, waitMessage?: (message: string) => void): Promise<HeldLock> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, 'a');
  const slowNotice = waitMessage
    ? setTimeout(() => waitMessage(`waiting for another gantry process to release ${path}`), 1000)
    : undefined;
  try {
    await lockDescriptor(file.fd, mode, path);
  } catch (err) {
    await file.close();
    throw err;
  } finally {
    if (slowNotice) clearTimeout(slowNotice);
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      await file.close();
    },
  };
}

/** Runs `flock` on `fd`, passed to it as its descriptor 3; resolves once it holds the lock. */
function lockDescriptor(fd: number, mode: LockMode, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', [mode === 'shared' ? '-s' : '-x', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (err) => reject(new GantryError(`could not start flock to lock ${path}: ${err.message}`, { cause: err })));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(new GantryError(`could not lock ${path} (flock ${signal ? `killed by ${signal}` : `exited with ${code}`}): ${stderr.trim()}`, {
          hint: 'gantry needs util-linux flock and write access to its store directory',
        }));
    });
  });
}

export async function withLock<T>(path: string, mode: LockMode, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(path, mode);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
