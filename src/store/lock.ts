/**
 * Inter-process locks on files in the store, held with the kernel's flock(2) through util-linux
 * `flock`: the lock lives as long as a small child process whose stdin is our pipe, so a gantry
 * process that is killed at any moment releases its locks with it — no stale lock files to clean up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GantryError } from '../util/errors.js';

export type LockMode = 'shared' | 'exclusive';

export interface HeldLock {
  release(): Promise<void>;
}

export async function acquireLock(path: string, mode: LockMode, waitMessage?: (message: string) => void): Promise<HeldLock> {
  await mkdir(dirname(path), { recursive: true });
  const child = spawn('flock', [mode === 'shared' ? '-s' : '-x', path, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // Own process group: a Ctrl-C meant for gantry must not drop the lock before gantry has cleaned up.
    detached: true,
  });
  const slowNotice = waitMessage
    ? setTimeout(() => waitMessage(`waiting for another gantry process to release ${path}`), 1000)
    : undefined;
  try {
    await waitForLocked(child, path);
  } finally {
    if (slowNotice) clearTimeout(slowNotice);
  }
  // The holder must not keep our event loop alive, nor die with a signal meant for us before we release.
  child.unref();
  (child.stdout as { unref?: () => void } | null)?.unref?.();
  (child.stderr as { unref?: () => void } | null)?.unref?.();
  (child.stdin as { unref?: () => void } | null)?.unref?.();
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      });
      // Waiting for the holder's exit must keep the event loop alive, or a short script could end first.
      child.ref();
      child.stdin?.end();
      await exited;
    },
  };
}

function waitForLocked(child: ChildProcess, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null) => {
      reject(new GantryError(`could not lock ${path} (flock exited with ${code}): ${stderr.trim()}`, {
        hint: 'gantry needs util-linux flock and write access to its store directory',
      }));
    };
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (err) => reject(new GantryError(`could not start flock to lock ${path}: ${err.message}`, { cause: err })));
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
