import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderResults, withSummaries, type RunRecord } from '../../bench/results.js';
import type { Sample } from '../../bench/stats.js';
import type { ToolName } from '../../bench/options.js';
import type { Scenario } from '../../bench/workloads.js';

function sample(tool: ToolName, scenario: Scenario, round: number, seconds: number): Sample {
  return { round, workload: 'w', scenario, tool, seconds, peakTreeRssKiB: 2048, maxProcessRssKiB: 1024, cpuSeconds: 0.5, quietStart: round !== 2 };
}

const run: RunRecord = {
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:10:00.000Z',
  options: { rounds: 3, quick: false, workloads: ['w'], tools: ['gantry', 'buildkit'] },
  machine: { cpu: 'CPU', cores: 4, memoryGiB: 16, kernel: '6.1', os: 'Debian', disk: 'disk' },
  tools: [
    { name: 'gantry', title: 'gantry', setup: 'gantry build', buildCommand: 'gantry build', versions: { gantry: '0.1.0' } },
    { name: 'buildkit', title: 'BuildKit', setup: 'docker build', buildCommand: 'docker build', versions: { docker: '20.10' } },
  ],
  unavailable: [],
  workloads: [{ name: 'w', summary: 'a workload', tools: ['gantry', 'buildkit'], baseline: 'buildkit', targets: { cold: 1, noop: 0.5, change: 0.7 }, changedFile: 'f', dockerfile: 'FROM busybox:latest\n' }],
  samples: [1, 2, 3].flatMap((round) => [sample('gantry', 'cold', round, round), sample('buildkit', 'cold', round, 2 * round)]),
};

test('summaries come from the samples, and the report renders them', () => {
  const results = withSummaries(run);
  assert.equal(results.timing.length, 1);
  assert.deepEqual(results.timing[0]?.medians, { gantry: 2, buildkit: 4 });
  assert.equal(results.timing[0]?.met, true);
  assert.deepEqual(results.memory.map((m) => m.tool), ['gantry', 'buildkit']);
  const report = renderResults(results);
  assert.match(report, /\| w \| cold \| 2\.00 \(1\.00–3\.00\) \| 4\.00 \(2\.00–6\.00\) \| 0\.50× \| ≤ 1\.0× \| yes \|/);
  assert.match(report, /Medians of 3 rounds .* 2 of 6 builds started before the machine was quiet\./);
});

test('a results file read back renders the same report', () => {
  const results = withSummaries(run);
  const readBack = withSummaries(JSON.parse(JSON.stringify(results)) as RunRecord);
  assert.equal(renderResults(readBack), renderResults(results));
});
