import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, MEMORY_LIMIT_KIB, summarizeMemory, summarizeTimes, type Sample } from '../../bench/stats.js';
import type { ToolName } from '../../bench/options.js';
import type { Scenario } from '../../bench/workloads.js';

const workload = { name: 'w', baseline: 'buildkit' as const, targets: { cold: 1.0, noop: 0.5, change: 0.7 } };
const tools: ToolName[] = ['gantry', 'buildah', 'buildkit'];

function sample(tool: ToolName, scenario: Scenario, seconds: number, extra: Partial<Sample> = {}): Sample {
  return { round: 1, workload: 'w', scenario, tool, seconds, peakTreeRssKiB: 1000, maxProcessRssKiB: 900, cpuSeconds: 0.1, quietStart: true, ...extra };
}

test('median of odd and even counts, whatever the order', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]));
});

test('ratios are medians over the baseline median, and targets are checked on gantry', () => {
  const samples = [
    sample('gantry', 'cold', 1), sample('gantry', 'cold', 3), sample('gantry', 'cold', 2),
    sample('buildah', 'cold', 8),
    sample('buildkit', 'cold', 4), sample('buildkit', 'cold', 2), sample('buildkit', 'cold', 6),
    sample('gantry', 'noop', 0.3), sample('buildkit', 'noop', 0.5),
  ];
  const [cold, noop] = summarizeTimes(samples, [workload], tools);
  assert.deepEqual(cold?.medians, { gantry: 2, buildah: 8, buildkit: 4 });
  assert.deepEqual(cold?.runs, { gantry: 3, buildah: 1, buildkit: 3 });
  assert.deepEqual(cold?.ranges, { gantry: [1, 3], buildah: [8, 8], buildkit: [2, 6] });
  assert.deepEqual(cold?.ratios, { gantry: 0.5, buildah: 2 });
  assert.equal(cold?.met, true);
  assert.equal(noop?.scenario, 'noop');
  assert.ok(Math.abs((noop?.ratios.gantry ?? 0) - 0.6) < 1e-9);
  assert.equal(noop?.met, false);
});

test('scenarios without samples are left out; without the baseline there is no ratio and no verdict', () => {
  const rows = summarizeTimes([sample('gantry', 'cold', 1), sample('buildah', 'cold', 2)], [workload], tools);
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]?.ratios, {});
  assert.equal(rows[0]?.met, undefined);
});

test('failed builds stay out of medians, are counted, and a failing gantry misses the target', () => {
  const rows = summarizeTimes(
    [
      sample('gantry', 'change', 0.1, { error: 'exited 2' }),
      sample('gantry', 'change', 0.2),
      sample('buildkit', 'change', 1),
      sample('buildah', 'change', 5, { error: 'exited 1' }),
    ],
    [workload],
    tools,
  );
  assert.deepEqual(rows[0]?.medians, { gantry: 0.2, buildkit: 1 });
  assert.deepEqual(rows[0]?.failures, { gantry: 1, buildah: 1 });
  assert.equal(rows[0]?.met, false);
});

test('memory: the largest of every run per tool, judged against the limit for gantry only', () => {
  const rows = summarizeMemory(
    [
      sample('gantry', 'cold', 1, { peakTreeRssKiB: 200 * 1024, maxProcessRssKiB: 150 * 1024 }),
      sample('gantry', 'noop', 1, { peakTreeRssKiB: 90 * 1024, maxProcessRssKiB: 310 * 1024 }),
      sample('buildah', 'cold', 1, { peakTreeRssKiB: 900 * 1024, maxProcessRssKiB: 10 }),
    ],
    [workload],
    tools,
  );
  assert.deepEqual(rows, [
    { workload: 'w', tool: 'gantry', peakTreeRssKiB: 200 * 1024, maxProcessRssKiB: 310 * 1024, met: false },
    { workload: 'w', tool: 'buildah', peakTreeRssKiB: 900 * 1024, maxProcessRssKiB: 10 },
  ]);
  assert.equal(MEMORY_LIMIT_KIB, 300 * 1024);
});
