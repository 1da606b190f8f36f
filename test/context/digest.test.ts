import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { selectSources } from '../../src/context/index.js';
import { entryPayloads, type SelectedEntry } from '../../src/context/entries.js';
import { sha256 } from '../../src/util/digest.js';
import { makeTree, tempDir, type TreeSpec } from './tree.js';

const spec: TreeSpec = {
  'app/main.js': 'console.log(1)\n',
  'app/run.sh': { content: '#!/bin/sh\n', mode: 0o755 },
  'app/lib/util.js': 'export {}\n',
  'app/current': { link: 'lib' },
  'app/empty/': null,
};

async function digestOf(root: string, sources = ['app']): Promise<string> {
  return (await selectSources(root, sources)).digest;
}

/** Runs `change` on a fresh tree and reports whether the digest of `app` moved. */
async function digestChanges(change: (root: string) => Promise<void>): Promise<boolean> {
  const { dir, cleanup } = await tempDir();
  try {
    await makeTree(dir, spec);
    const before = await digestOf(dir);
    await change(dir);
    return (await digestOf(dir)) !== before;
  } finally {
    await cleanup();
  }
}

test('same files give the same digest whatever their times or location', async () => {
  const first = await tempDir();
  const second = await tempDir();
  try {
    await makeTree(first.dir, spec);
    await makeTree(second.dir, spec);
    const old = new Date('2001-02-03T04:05:06Z');
    for (const path of ['app/main.js', 'app/run.sh', 'app/lib/util.js', 'app/lib', 'app']) await utimes(join(second.dir, path), old, old);
    assert.equal(await digestOf(first.dir), await digestOf(second.dir));
  } finally {
    await first.cleanup();
    await second.cleanup();
  }
});

test('content, mode, link target and membership changes all change the digest', async () => {
  assert.equal(await digestChanges((root) => writeFile(join(root, 'app/main.js'), 'console.log(2)\n')), true, 'content');
  assert.equal(await digestChanges((root) => chmod(join(root, 'app/run.sh'), 0o700)), true, 'file mode');
  assert.equal(await digestChanges((root) => chmod(join(root, 'app/lib'), 0o700)), true, 'directory mode');
  assert.equal(await digestChanges((root) => chmod(join(root, 'app/run.sh'), 0o4755)), true, 'setuid bit');
  assert.equal(
    await digestChanges(async (root) => {
      await rm(join(root, 'app/current'));
      await symlink('empty', join(root, 'app/current'));
    }),
    true,
    'link target',
  );
  assert.equal(await digestChanges((root) => writeFile(join(root, 'app/lib/new.js'), '')), true, 'file added');
  assert.equal(await digestChanges((root) => mkdir(join(root, 'app/empty/sub'))), true, 'empty directory added');
  assert.equal(await digestChanges((root) => rm(join(root, 'app/lib/util.js'))), true, 'file removed');
  assert.equal(await digestChanges((root) => rename(join(root, 'app/main.js'), join(root, 'app/index.js'))), true, 'file renamed');
  assert.equal(await digestChanges((root) => writeFile(join(root, 'outside.txt'), 'not selected')), false, 'unselected file');
});

test('a file and a symlink with the same bytes differ; so do the orders of sources', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    await makeTree(dir, { 'a/x': 'target', 'b/x': { link: 'target' }, 'c': 'c', 'd': 'd' });
    assert.notEqual(await digestOf(dir, ['a']), await digestOf(dir, ['b']));
    assert.notEqual(await digestOf(dir, ['c', 'd']), await digestOf(dir, ['d', 'c']));
    assert.equal(await digestOf(dir, ['c', 'd']), await digestOf(dir, ['c', 'd']));
  } finally {
    await cleanup();
  }
});

test('ownership is part of an entry record', () => {
  const entries = (uid: number, gid: number): SelectedEntry[] => [
    { path: '', sourcePath: '/r', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 },
    { path: 'f', sourcePath: '/r/f', type: 'file', mode: 0o644, uid, gid, size: 1, digest: sha256("x"), mtime: 0 },
  ];
  const root = (uid: number, gid: number) => entryPayloads(entries(uid, gid))[0];
  assert.equal(root(0, 0), root(0, 0));
  assert.notEqual(root(0, 0), root(1000, 0));
  assert.notEqual(root(0, 0), root(0, 1000));
});

test('names with spaces and newlines cannot collide with other layouts', () => {
  const dir = (names: string[]): SelectedEntry[] => [
    { path: '', sourcePath: '/r', type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 },
    ...names.map((name): SelectedEntry => ({ path: name, sourcePath: `/r/${name}`, type: 'symlink', mode: 0o777, uid: 0, gid: 0, size: 1, linkTarget: "x", mtime: 0 })),
  ];
  assert.notEqual(entryPayloads(dir(['a 1:b'])).at(0), entryPayloads(dir(['a', 'b'])).at(0));
  assert.notEqual(entryPayloads(dir(['a\nl 777 0 0 1:b'])).at(0), entryPayloads(dir(['a', 'b'])).at(0));
});
