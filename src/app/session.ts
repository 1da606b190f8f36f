/**
 * How a use case holds the store: it opens a session (store/session.ts) when it starts and releases it
 * when it ends, so everything it reads or writes stays for its whole life; prune alone takes it
 * exclusively, and waits (saying so after a second) for every other use case to finish.
 */
import { openSession, type SessionMode, type Store } from '../store/index.js';

/** Where the store is, and who hears that a use case is waiting for another command to finish with it. */
export interface StoreAccess {
  root: string;
  onWait?: (message: string) => void;
}

export async function withStore<T>(access: StoreAccess, task: (store: Store) => Promise<T>, mode: SessionMode = 'shared'): Promise<T> {
  const session = await openSession(access.root, mode, access.onWait);
  try {
    return await task(session.store);
  } finally {
    await session.release();
  }
}
