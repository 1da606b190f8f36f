import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { descendantRssPages, parseProcStat, type ProcStat } from '../../bench/memory.js';

test('parses pid, state, ppid and rss even when the command name holds spaces and parentheses', () => {
  const fields = Array.from({ length: 49 }, (_, i) => String(i + 3));
  fields[0] = 'S';
  fields[1] = '4242';
  fields[21] = '12345';
  const stat = parseProcStat(`777 (node (worker) x) ${fields.join(' ')}\n`);
  assert.deepEqual(stat, { pid: 777, state: 'S', ppid: 4242, rssPages: 12345 });
});

test('reads this very process', () => {
  const own = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
  assert.equal(own.pid, process.pid);
  assert.equal(own.ppid, process.ppid);
  assert.ok(own.rssPages > 0);
});

test('sums the descendants of the root, not the root nor anything else', () => {
  const processes: ProcStat[] = [
    { pid: 1, ppid: 0, state: 'S', rssPages: 1000 },
    { pid: 10, ppid: 1, state: 'S', rssPages: 5 }, // the root: a wrapper
    { pid: 11, ppid: 10, state: 'R', rssPages: 100 },
    { pid: 12, ppid: 11, state: 'S', rssPages: 20 },
    { pid: 13, ppid: 12, state: 'S', rssPages: 3 },
    { pid: 14, ppid: 10, state: 'S', rssPages: 7 },
    { pid: 20, ppid: 1, state: 'S', rssPages: 500 },
  ];
  assert.equal(descendantRssPages(processes, 10), 130);
  assert.equal(descendantRssPages(processes, 13), 0);
  assert.equal(descendantRssPages(processes, 99), 0);
});
