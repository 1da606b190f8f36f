/**
 * A store session is what a command holds for as long as it uses the store, as containerd's leases
 * do: sessions share the store's GC lock, and prune takes it alone. So everything a command reads or
 * writes — including blobs it has stored but not yet named, between a build's commit and its push, or
 * a load's staging and its index update — stays until the command ends. The lock is the kernel's
 * flock on an open file: a command killed at any moment ends its session with it.
 */
import { acquireLock, type HeldLock } from './lock.js';
import { Store } from './store.js';

export type SessionMode = 'shared' | 'exclusive';

export interface StoreSession {
  readonly store: Store;
  /** `exclusive`: no other session is open (prune); `shared`: any number of them are. */
  readonly mode: SessionMode;
  release(): Promise<void>;
}

/** Opens the store at `root` and a session on it; `onWait` hears of a wait longer than a second. */
export async function openSession(root: string, mode: SessionMode, onWait?: (message: string) => void): Promise<StoreSession> {
  const store = await Store.open(root);
  const lock: HeldLock = await acquireLock(store.gcLockPath, mode, onWait);
  return { store, mode, release: () => lock.release() };
}
