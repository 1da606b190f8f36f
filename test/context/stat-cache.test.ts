import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IgnoreMatcher, StatCache, parseIgnoreFile, selectSources, type Selection, type SelectOptions } from '../../src/context/index.js';
import { clockAhead, countingHasher, makeTree, tempDir } from './tree.js';

interface Run {
  selection: Selection;
  reads: string[];
}

/** One build: open the cache, select, save, as the engine does. */
async function build(root: string, cacheFile: string, options: SelectOptions = {}, now = clockAhead): Promise<Run> {
  const statCache = await StatCache.open(cacheFile, { now });
  const hasher = countingHasher();
  const selection = await selectSources(root, ['.'], { ...options, statCache, hashFile: hasher.hashFile });
  await statCache.save();
  return { selection, reads: hasher.reads };
}

async function withContext(run: (context: string, cacheFile: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir();
  try {
    const context = join(dir, 'context');
    await makeTree(context, { 'a.txt': 'alpha', 'b.txt': 'bravo', 'sub/c.txt': 'charlie' });
    await run(context, join(dir, 'cache', 'stat-cache'));
  } finally {
    await cleanup();
  }
}

test('a no-op rebuild reads nothing', async () => {
  await withContext(async (context, cacheFile) => {
    const first = await build(context, cacheFile);
    assert.equal(first.reads.length, 3);
    const second = await build(context, cacheFile);
    assert.deepEqual(second.reads, []);
    assert.equal(second.selection.stats.cacheHits, 3);
    assert.equal(second.selection.digest, first.selection.digest);
  });
});

test('new content with the same size and mtime (touch -r) gives a new digest', async () => {
  await withContext(async (context, cacheFile) => {
    const file = join(context, 'a.txt');
    // A whole-second mtime, so that restoring it below is exact to the nanosecond.
    const mtime = Math.floor(Date.now() / 1000) - 3600;
    await utimes(file, mtime, mtime);
    const first = await build(context, cacheFile);
    const before = await stat(file, { bigint: true });
    await writeFile(file, 'ALPHA');
    await utimes(file, mtime, mtime);
    const after = await stat(file, { bigint: true });
    assert.equal(after.size, before.size);
    assert.equal(after.mtimeNs, before.mtimeNs);
    const second = await build(context, cacheFile);
    assert.deepEqual(second.reads, [file]);
    assert.notEqual(second.selection.digest, first.selection.digest);
  });
});

test('a mode change gives a new digest', async () => {
  await withContext(async (context, cacheFile) => {
    const first = await build(context, cacheFile);
    await chmod(join(context, 'b.txt'), 0o600);
    const second = await build(context, cacheFile);
    assert.notEqual(second.selection.digest, first.selection.digest);
  });
});

test('only the mtime changed: same digest; the file is read once more, then never again', async () => {
  await withContext(async (context, cacheFile) => {
    const file = join(context, 'a.txt');
    const first = await build(context, cacheFile);
    const earlier = new Date(Date.now() - 60_000);
    await utimes(file, earlier, earlier);
    // Changing the mtime also changes the ctime: the stat no longer vouches for the content, so
    // exactly this file is read again (never the unchanged ones), and the digest is the same.
    const second = await build(context, cacheFile);
    assert.deepEqual(second.reads, [file]);
    assert.equal(second.selection.digest, first.selection.digest);
    const third = await build(context, cacheFile);
    assert.deepEqual(third.reads, []);
    assert.equal(third.selection.digest, first.selection.digest);
  });
});

test('reading files (which moves atime) does not invalidate the cache', async () => {
  await withContext(async (context, cacheFile) => {
    await build(context, cacheFile);
    await readFile(join(context, 'a.txt'));
    assert.deepEqual((await build(context, cacheFile)).reads, []);
  });
});

test('a change in an ignored file: same digest, and the file is not read', async () => {
  await withContext(async (context, cacheFile) => {
    await makeTree(context, { 'logs/app.log': 'one', 'debug.log': 'x' });
    const ignore = new IgnoreMatcher(undefined, parseIgnoreFile('logs\n*.log\n'));
    const first = await build(context, cacheFile, { ignore });
    await writeFile(join(context, 'logs/app.log'), 'two, longer');
    await writeFile(join(context, 'debug.log'), 'y');
    const second = await build(context, cacheFile, { ignore });
    assert.equal(second.selection.digest, first.selection.digest);
    assert.deepEqual(second.reads, []);
    assert.ok(!first.reads.some((p) => p.endsWith('.log')));
  });
});

test('racy entries (changed in the same second the cache was recorded) are hashed again', async () => {
  await withContext(async (context, cacheFile) => {
    // Real clock: the files were just written, so their digests are not trusted by a later session.
    const realClock = () => BigInt(Date.now()) * 1_000_000n;
    const first = await build(context, cacheFile, {}, realClock);
    assert.equal(first.reads.length, 3);
    const second = await build(context, cacheFile, {}, realClock);
    assert.equal(second.reads.length, 3);
    // Once the files are older than the session, their digests are kept.
    await build(context, cacheFile);
    assert.deepEqual((await build(context, cacheFile)).reads, []);
  });
});

test('a corrupt or truncated cache file is ignored and rebuilt', async () => {
  await withContext(async (context, cacheFile) => {
    const first = await build(context, cacheFile);
    await truncate(cacheFile, (await stat(cacheFile)).size - 10);
    const truncated = await StatCache.open(cacheFile);
    assert.equal(truncated.loadState, 'discarded');
    assert.equal(truncated.size, 0);
    const rebuilt = await build(context, cacheFile);
    assert.equal(rebuilt.reads.length, 3);
    assert.equal(rebuilt.selection.digest, first.selection.digest);
    assert.equal((await StatCache.open(cacheFile)).loadState, 'loaded');

    // Flip one byte inside a record: the checksum catches it.
    const bytes = await readFile(cacheFile);
    bytes[40] = (bytes[40] as number) ^ 0xff;
    await writeFile(cacheFile, bytes);
    assert.equal((await StatCache.open(cacheFile)).loadState, 'discarded');
    await writeFile(cacheFile, 'not a cache');
    assert.equal((await build(context, cacheFile)).reads.length, 3);
  });
});

test('saves are atomic and leave no temporary files', async () => {
  await withContext(async (context, cacheFile) => {
    await build(context, cacheFile);
    await writeFile(join(context, 'd.txt'), 'delta');
    await build(context, cacheFile);
    assert.deepEqual(await readdir(join(cacheFile, '..')), ['stat-cache']);
    const reopened = await StatCache.open(cacheFile);
    assert.equal(reopened.loadState, 'loaded');
    assert.equal(reopened.size, 4);
  });
});

test('digests of files no longer seen are dropped after many saves', async () => {
  await withContext(async (context, cacheFile) => {
    await build(context, cacheFile);
    await mkdir(join(context, 'other'));
    for (let i = 0; i < 17; i++) {
      // Each session records one new file under "other", and selects only that.
      await writeFile(join(context, 'other', `f${i}`), String(i));
      const statCache = await StatCache.open(cacheFile, { now: clockAhead });
      await selectSources(context, ['other'], { statCache });
      await statCache.save();
    }
    const cache = await StatCache.open(cacheFile);
    // a.txt, b.txt, sub/c.txt were last used 17 saves ago.
    assert.equal(cache.size, 17);
  });
});

test('30,000 files with one changed: exactly one file is hashed', async () => {
  const { dir, cleanup } = await tempDir(true);
  try {
    const context = join(dir, 'context');
    for (let d = 0; d < 300; d++) {
      const sub = join(context, `d${Math.floor(d / 30)}`, `m${d}`);
      mkdirSync(sub, { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(join(sub, `f${f}.txt`), `file ${d}/${f}\n`);
    }
    const cacheFile = join(dir, 'stat-cache');
    const statCache = await StatCache.open(cacheFile, { now: clockAhead });
    const first = await selectSources(context, ['.'], { statCache });
    await statCache.save();
    assert.equal(first.stats.filesHashed, 30000);
    const changed = join(context, 'd4', 'm123', 'f45.txt');
    await writeFile(changed, 'changed\n');
    const second = await build(context, cacheFile);
    assert.deepEqual(second.reads, [changed]);
    assert.equal(second.selection.stats.filesHashed, 1);
    assert.equal(second.selection.stats.cacheHits, 29999);
    assert.notEqual(second.selection.digest, first.digest);
  } finally {
    await cleanup();
  }
});
