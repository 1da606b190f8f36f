/**
 * Helper processes that must not outlive gantry (a network namespace holder, slirp4netns, a runtime
 * waiting in a private mount namespace). Each holds one end of a socket from gantry, its lifeline, and
 * exits when it closes: when gantry closes it, and also when the kernel does because gantry was killed.
 * A helper says it is ready by writing to a stream; one that exits first fails with its error output.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { errnoCode, GantryError } from '../util/index.js';

/**
 * Resolves on the first data on `ready`; rejects when the helper cannot start or exits first. The
 * helper's stderr (which must be piped) is kept for the message.
 */
export function waitUntilReady(child: ChildProcess, ready: Readable, what: string, pkg: string): Promise<void> {
  let stderr = '';
  const onStderr = (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  };
  child.stderr?.on('data', onStderr);
  return new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      ready.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      child.stderr?.off('data', onStderr);
    };
    const onData = () => {
      cleanup();
      resolve();
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      // Let the last of stderr arrive before reporting.
      setImmediate(() => {
        cleanup();
        const detail = stderr.trim() || (signal ? `killed by ${signal}` : `exit status ${code}`);
        reject(new GantryError(`${what} failed: ${detail}`));
      });
    };
    const onError = (err: Error) => {
      cleanup();
      const missing = errnoCode(err) === 'ENOENT';
      reject(new GantryError(`${what}: \`${child.spawnfile}\` could not be run${missing ? ' (not installed)' : ''}`, { hint: `install the ${pkg} package (scripts/install-deps.sh does)`, cause: err }));
    };
    ready.once('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** Cuts the lifeline and waits for the helper to exit. */
export async function stopHelper(child: ChildProcess, lifeline: { destroy(): void }): Promise<void> {
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : once(child, 'exit').then(() => undefined);
  // Closing (not half-closing) the socket: a helper polling it sees the hang-up.
  lifeline.destroy();
  await exited;
}
