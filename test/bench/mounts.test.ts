import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountPointsUnder, retireStateDir } from '../../bench/mounts.js';

const line = (id: number, point: string) => `${id} 1 0:${id} / ${point} rw,relatime shared:1 - overlay overlay rw`;

test('lists mounts at or below a directory, deepest first, later stacked mounts first', () => {
  const mountinfo = [
    line(20, '/'),
    line(21, '/tmp/bench/state'),
    line(22, '/tmp/bench/state/overlay/abc/merged'),
    line(23, '/tmp/bench/state-other'),
    line(24, '/tmp/bench/state/overlay'),
    line(25, '/tmp/bench/state'),
    line(26, '/tmp/bench/statefile'),
    '',
  ].join('\n');
  assert.deepEqual(mountPointsUnder(mountinfo, '/tmp/bench/state/'), [
    '/tmp/bench/state/overlay/abc/merged',
    '/tmp/bench/state/overlay',
    '/tmp/bench/state',
    '/tmp/bench/state',
  ]);
});

test('decodes the octal escapes mountinfo uses for spaces and backslashes', () => {
  const mountinfo = [line(30, '/tmp/my\\040dir/run'), line(31, '/tmp/back\\134slash')].join('\n');
  assert.deepEqual(mountPointsUnder(mountinfo, '/tmp/my dir'), ['/tmp/my dir/run']);
  assert.deepEqual(mountPointsUnder(mountinfo, '/tmp/back\\slash'), ['/tmp/back\\slash']);
});

test('retiring a state directory moves it whole into the trash, under a new name each time', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-bench-mounts-'));
  try {
    const state = join(dir, 'state', 'gantry');
    const trash = join(dir, 'trash');
    for (const content of ['first', 'second']) {
      await mkdir(join(state, 'blobs'), { recursive: true });
      await writeFile(join(state, 'blobs', 'a'), content);
      await retireStateDir(state, trash);
      assert.ok(!existsSync(state));
    }
    const retired = await readdir(trash);
    assert.equal(retired.length, 2);
    const contents = await Promise.all(retired.map((name) => readFile(join(trash, name, 'blobs', 'a'), 'utf8')));
    assert.deepEqual(contents.sort(), ['first', 'second']);
    await retireStateDir(state, trash);
    assert.equal((await readdir(trash)).length, 2, 'a missing state directory retires nothing');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
