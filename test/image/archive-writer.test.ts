import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryArchiveWriter } from '../../src/image/archive-writer.js';

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-archive-writer-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const bytes = (text: string) => async () =>
  (async function* () {
    yield Buffer.from(text);
  })();

test('a new archive directory appears under its name only when committed (a killed writer leaves no partial layout there)', () =>
  inTempDir(async (dir) => {
    const destination = join(dir, 'layout');
    const writer = await DirectoryArchiveWriter.open(destination);
    await writer.addFile('blobs/sha256/one', { size: 3 }, bytes('one'));
    await writer.addBytes('index.json', Buffer.from('{}'));
    assert.ok(!(await readdir(dir)).includes('layout'), 'nothing under the destination name before commit');
    await writer.commit();
    assert.deepEqual(await readdir(dir), ['layout']);
    assert.equal(await readFile(join(destination, 'blobs/sha256/one'), 'utf8'), 'one');
  }));

test('an aborted new archive directory leaves nothing, neither under its name nor beside it', () =>
  inTempDir(async (dir) => {
    const writer = await DirectoryArchiveWriter.open(join(dir, 'layout'));
    await writer.addFile('blobs/sha256/one', { size: 3 }, bytes('one'));
    await assert.rejects(writer.addFile('blobs/sha256/two', { size: 5 }, bytes('two')), /expected 5 bytes, got 3/);
    await writer.abort();
    assert.deepEqual(await readdir(dir), []);
  }));

test('an existing archive directory is written in place', () =>
  inTempDir(async (dir) => {
    const writer = await DirectoryArchiveWriter.open(dir);
    await writer.addFile('blobs/sha256/one', { size: 3 }, bytes('one'));
    assert.equal(await readFile(join(dir, 'blobs/sha256/one'), 'utf8'), 'one', 'a verified file is in place at once; index.json, written last, names it');
    await writer.commit();
  }));

test('a replacing directory leaves the old one whole until commit, then only the new content is there', () =>
  inTempDir(async (dir) => {
    const destination = join(dir, 'cache');
    const first = await DirectoryArchiveWriter.replace(destination);
    await first.addBytes('old.txt', Buffer.from('old'));
    await first.commit();
    const second = await DirectoryArchiveWriter.replace(destination);
    await second.addBytes('new.txt', Buffer.from('new'));
    assert.deepEqual(await readdir(destination), ['old.txt'], 'the old directory is untouched before commit');
    await second.commit();
    assert.deepEqual(await readdir(destination), ['new.txt']);
    assert.deepEqual(await readdir(dir), ['cache'], 'nothing is left beside it');
    const aborted = await DirectoryArchiveWriter.replace(destination);
    await aborted.addBytes('never.txt', Buffer.from('x'));
    await aborted.abort();
    assert.deepEqual(await readdir(dir), ['cache']);
    assert.deepEqual(await readdir(destination), ['new.txt']);
  }));
