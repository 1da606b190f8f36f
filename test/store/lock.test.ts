import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { acquireLock } from '../../src/store/lock.js';

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-lock-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Settles `promise` within `ms`, or reports that it is still pending. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([promise.then(() => true), sleep(ms, undefined, { ref: false }).then(() => false)]);
}

test('an exclusive lock waits for the holder to release it', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'locks', 'index.lock');
    const first = await acquireLock(path, 'exclusive');
    const second = acquireLock(path, 'exclusive');
    assert.equal(await settledWithin(second, 300), false, 'acquired while held');
    await first.release();
    assert.equal(await settledWithin(second, 5000), true, 'not acquired after release');
    await (await second).release();
  });
});

test('shared locks are held together and keep an exclusive one waiting', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'gc.lock');
    const readers = [await acquireLock(path, 'shared'), await acquireLock(path, 'shared')];
    const writer = acquireLock(path, 'exclusive');
    assert.equal(await settledWithin(writer, 300), false);
    await readers[0]!.release();
    assert.equal(await settledWithin(writer, 300), false, 'acquired while one reader still holds the lock');
    await readers[1]!.release();
    await readers[1]!.release(); // a second release is harmless
    assert.equal(await settledWithin(writer, 5000), true);
    await (await writer).release();
  });
});

test('a process killed while holding a lock releases it', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'index.lock');
    const lockModule = new URL('../../src/store/lock.js', import.meta.url).href;
    const holder = spawn(
      process.execPath,
      ['--input-type=module', '-e', `const { acquireLock } = await import(${JSON.stringify(lockModule)}); await acquireLock(${JSON.stringify(path)}, 'exclusive'); console.log('held'); setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('held') && resolve());
      holder.once('exit', (code) => reject(new Error(`holder exited early with ${code}`)));
    });
    const waiting = acquireLock(path, 'exclusive');
    assert.equal(await settledWithin(waiting, 300), false, 'acquired while another process holds the lock');
    holder.kill('SIGKILL');
    assert.equal(await settledWithin(waiting, 5000), true, 'not acquired after the holder was killed');
    await (await waiting).release();
  });
});
