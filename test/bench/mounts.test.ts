import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountPointsUnder } from '../../bench/mounts.js';

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
