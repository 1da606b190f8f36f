import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorSummary, formatRatio, formatSeconds, formatReport, memoryTable, timingTable } from '../../bench/report.js';
import type { MemoryRow, Sample, TimingRow } from '../../bench/stats.js';

const rows: TimingRow[] = [
  {
    workload: 'two-stage',
    scenario: 'cold',
    baseline: 'buildkit',
    medians: { gantry: 1.234, buildah: 2, buildkit: 0.5 },
    ranges: { gantry: [1.1, 1.5], buildah: [2, 2], buildkit: [0.4, 0.6] },
    runs: { gantry: 3, buildah: 3, buildkit: 3 },
    failures: {},
    ratios: { gantry: 2.468, buildah: 4 },
    target: 1,
    met: false,
  },
  {
    workload: 'two-stage',
    scenario: 'change',
    baseline: 'buildkit',
    medians: { buildah: 1.5, buildkit: 0.75 },
    ranges: { buildah: [1.5, 1.5], buildkit: [0.75, 0.75] },
    runs: { buildah: 3, buildkit: 3 },
    failures: { gantry: 3, buildah: 1 },
    ratios: { buildah: 2 },
    target: 0.7,
    met: false,
  },
];

test('numbers: three decimals under a second, two above; ratios with ×', () => {
  assert.equal(formatSeconds(0.12345), '0.123');
  assert.equal(formatSeconds(12.345), '12.35');
  assert.equal(formatRatio(0.456), '0.46×');
});

test('the timing table has a column per tool and per compared tool, and shows failures', () => {
  const lines = timingTable(rows, ['gantry', 'buildah', 'buildkit']).split('\n');
  assert.equal(lines[0], '| workload | scenario | gantry s | Buildah s | BuildKit s | gantry / BuildKit | Buildah / BuildKit | gantry target | met |');
  assert.equal(lines[2], '| two-stage | cold | 1.23 (1.10–1.50) | 2.00 | 0.500 (0.400–0.600) | 2.47× | 4.00× | ≤ 1.0× | no |');
  assert.equal(lines[3], '| two-stage | one-file change | failed | 1.50, 1 failed | 0.750 | – | 2.00× | ≤ 0.7× | no |');
});

test('a table leaves out the tools its workloads do not compare', () => {
  const row: TimingRow = {
    workload: 'multi-platform',
    scenario: 'noop',
    baseline: 'buildah',
    medians: { gantry: 0.3, buildah: 0.8 },
    ranges: { gantry: [0.25, 0.35], buildah: [0.7, 0.9] },
    runs: { gantry: 3, buildah: 3 },
    failures: {},
    ratios: { gantry: 0.375 },
    target: 0.7,
    met: true,
  };
  const lines = timingTable([row], ['gantry', 'buildah', 'buildkit']).split('\n');
  assert.equal(lines[0], '| workload | scenario | gantry s | Buildah s | gantry / Buildah | gantry target | met |');
  assert.equal(lines[2], '| multi-platform | no-op | 0.300 (0.250–0.350) | 0.800 (0.700–0.900) | 0.38× | ≤ 0.7× | yes |');
});

test('the memory table judges gantry only', () => {
  const memory: MemoryRow[] = [
    { workload: 'w', tool: 'gantry', peakTreeRssKiB: 204800, maxProcessRssKiB: 102400, met: true },
    { workload: 'w', tool: 'buildah', peakTreeRssKiB: 51200, maxProcessRssKiB: 51200 },
  ];
  const lines = memoryTable(memory).split('\n');
  assert.equal(lines[2], '| w | gantry | 200 MiB | 100 MiB | yes (≤ 300 MiB) |');
  assert.equal(lines[3], '| w | Buildah | 50 MiB | 50 MiB |  |');
});

test('a failed build is summed up by its status and first line of output', () => {
  const error = 'gantry change build of w: node main.js build exited 2\n\ngantry: internal error (please report it): TypeError: x\n    at f (a.js:1:1)';
  assert.equal(errorSummary(error), 'exited 2: gantry: internal error (please report it): TypeError: x');
  assert.equal(errorSummary('buildah cold build of w: buildah build was killed by SIGKILL'), 'was killed by SIGKILL');
});

test('the report counts targets and lists each distinct failure once with its rounds', () => {
  const failure = (round: number): Sample => ({
    round,
    workload: 'two-stage',
    scenario: 'change',
    tool: 'gantry',
    seconds: 0.5,
    peakTreeRssKiB: 1,
    maxProcessRssKiB: 1,
    cpuSeconds: 0.4,
    quietStart: true,
    error: 'gantry change build of two-stage: gantry build exited 2\nboom',
  });
  const report = formatReport({
    machine: { cpu: 'CPU', cores: 2, memoryGiB: 8, kernel: '6.1', os: 'Debian', disk: '/dev/sda (ext4, 100G)' },
    rounds: 2,
    tools: [{ name: 'gantry', title: 'gantry', setup: 'gantry build', buildCommand: 'node main.js build', versions: { gantry: '0.1.0' } }],
    unavailable: [{ name: 'buildah', reason: 'Buildah cannot run: missing\nmore' }],
    workloads: [{ name: 'two-stage' }],
    timing: rows,
    memory: [],
    failed: [failure(1), failure(2)],
    builds: { total: 10, busyStart: 1 },
  });
  assert.match(report, /Machine: CPU, 2 cores, 8 GiB, Debian, kernel 6.1, disk \/dev\/sda \(ext4, 100G\)/);
  assert.match(report, /- Buildah: not measured — Buildah cannot run: missing\n/);
  assert.match(report, /Medians of 2 rounds .*ratios are of medians, to BuildKit\. 1 of 10 builds started before the machine was quiet\./);
  assert.match(report, /- gantry, two-stage, one-file change — exited 2: boom \(rounds 1, 2\)/);
  assert.match(report, /Targets: 0 of 2 time targets met, 2 missed, 0 not measurable; memory within the limit\./);
});

test('workloads with another baseline get a table of their own, and the report says which tools they leave out and why', () => {
  const multi: TimingRow = { ...(rows[0] as TimingRow), workload: 'multi-platform', baseline: 'buildah', medians: { gantry: 1, buildah: 2 }, ranges: {}, ratios: { gantry: 0.5 }, target: 0.7, met: true };
  const report = formatReport({
    machine: { cpu: 'CPU', cores: 2, memoryGiB: 8, kernel: '6.1', os: 'Debian', disk: 'disk' },
    rounds: 1,
    tools: (['gantry', 'buildah', 'buildkit'] as const).map((name) => ({ name, title: name, setup: name, buildCommand: name, versions: {} })),
    unavailable: [],
    workloads: [{ name: 'two-stage' }, { name: 'multi-platform', platforms: ['linux/amd64', 'linux/arm64'], leftOut: { buildkit: 'no multi-platform images' } }],
    timing: [rows[0] as TimingRow, multi],
    memory: [],
    failed: [],
    builds: { total: 4, busyStart: 0 },
  });
  assert.match(report, /- multi-platform builds for linux\/amd64 and linux\/arm64 at once\n- multi-platform: BuildKit left out — no multi-platform images\n/);
  assert.match(report, /ratios are of medians, to BuildKit or Buildah\./);
  const headers = report.split('\n').filter((line) => line.startsWith('| workload | scenario'));
  assert.deepEqual(headers, [
    '| workload | scenario | gantry s | Buildah s | BuildKit s | gantry / BuildKit | Buildah / BuildKit | gantry target | met |',
    '| workload | scenario | gantry s | Buildah s | gantry / Buildah | gantry target | met |',
  ]);
  assert.match(report, /\| multi-platform \| cold \| 1\.00 \| 2\.00 \| 0\.50× \| ≤ 0\.7× \| yes \|/);
});
