import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rotate } from '../../bench/schedule.js';

test('each position leads once per cycle', () => {
  const tools = ['gantry', 'buildah', 'buildkit'];
  assert.deepEqual(rotate(tools, 0), ['gantry', 'buildah', 'buildkit']);
  assert.deepEqual(rotate(tools, 1), ['buildah', 'buildkit', 'gantry']);
  assert.deepEqual(rotate(tools, 2), ['buildkit', 'gantry', 'buildah']);
  assert.deepEqual(rotate(tools, 3), tools);
  assert.deepEqual(rotate([], 5), []);
  assert.deepEqual(tools, ['gantry', 'buildah', 'buildkit']);
});
