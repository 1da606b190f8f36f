import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { busyShare, parseCpuTimes } from '../../bench/idle.js';

test('idle time counts I/O wait; total counts user to steal', () => {
  const times = parseCpuTimes('cpu  100 5 50 800 40 1 2 2 0 0\ncpu0 50 2 25 400 20 0 1 1 0 0\nintr 1\n');
  assert.deepEqual(times, { idle: 840, total: 1000 });
});

test('busy share between two readings', () => {
  assert.equal(busyShare({ idle: 840, total: 1000 }, { idle: 915, total: 1100 }), 0.25);
  assert.equal(busyShare({ idle: 840, total: 1000 }, { idle: 840, total: 1100 }), 1);
  assert.equal(busyShare({ idle: 840, total: 1000 }, { idle: 840, total: 1000 }), 0);
});

test('reads this machine', () => {
  const times = parseCpuTimes(readFileSync('/proc/stat', 'utf8'));
  assert.ok(times.total > 0 && times.idle <= times.total);
});
