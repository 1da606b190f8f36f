import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FULL_ROUNDS, parseBenchOptions, QUICK_ROUNDS, TOOL_NAMES } from '../../bench/options.js';
import { GantryError } from '../../src/util/errors.js';

const workloads = ['two-stage', 'large-context', 'parallel-stages'];

test('defaults: every workload and tool, full rounds, nothing kept', () => {
  const options = parseBenchOptions([], {}, workloads);
  assert.deepEqual(options, { rounds: FULL_ROUNDS, workloads, tools: [...TOOL_NAMES], quick: false, workDir: undefined, resultsDir: undefined, gantry: undefined, gantryNetwork: 'host', help: false });
});

test('quick mode lowers the default rounds, not explicit ones', () => {
  assert.equal(parseBenchOptions(['--quick'], {}, workloads).rounds, QUICK_ROUNDS);
  assert.equal(parseBenchOptions([], { GANTRY_BENCH_QUICK: '1' }, workloads).rounds, QUICK_ROUNDS);
  assert.equal(parseBenchOptions(['--quick', '--rounds', '3'], {}, workloads).rounds, 3);
});

test('a flag wins over its environment variable', () => {
  const env = { GANTRY_BENCH_ROUNDS: '7', GANTRY_BENCH_TOOLS: 'buildah', GANTRY_BENCH_WORK_DIR: '/from/env' };
  const options = parseBenchOptions(['--rounds', '2', '--tools', 'gantry,buildkit'], env, workloads);
  assert.equal(options.rounds, 2);
  assert.deepEqual(options.tools, ['gantry', 'buildkit']);
  assert.equal(options.workDir, '/from/env');
});

test('selections keep the default order and drop blanks', () => {
  const options = parseBenchOptions(['--workloads', ' parallel-stages,,two-stage '], {}, workloads);
  assert.deepEqual(options.workloads, ['two-stage', 'parallel-stages']);
});

test('mistakes are user errors that say what is allowed', () => {
  const expectError = (argv: string[], env: NodeJS.ProcessEnv, pattern: RegExp) =>
    assert.throws(() => parseBenchOptions(argv, env, workloads), (err: unknown) => err instanceof GantryError && pattern.test(`${err.message} ${err.hint ?? ''}`));
  expectError(['--rounds', '0'], {}, /rounds "0".*at least 1/);
  expectError(['--rounds', '2.5'], {}, /rounds "2.5"/);
  expectError(['--workloads', 'huge'], {}, /unknown workload "huge".*two-stage, large-context, parallel-stages/);
  expectError(['--tools', 'kaniko'], {}, /unknown tool "kaniko".*gantry, buildah, buildkit/);
  expectError(['--bogus'], {}, /bogus.*--help/);
  expectError([], { GANTRY_BENCH_QUICK: 'yes' }, /GANTRY_BENCH_QUICK="yes"/);
  expectError(['--gantry-network', 'bridge'], {}, /unknown gantry network "bridge".*host, default, none/);
});

test("gantry's RUN network: host by default, as the other tools run here; the sandbox network on request", () => {
  assert.equal(parseBenchOptions(['--gantry-network', 'default'], {}, workloads).gantryNetwork, 'default');
  assert.equal(parseBenchOptions([], { GANTRY_BENCH_GANTRY_NETWORK: 'none' }, workloads).gantryNetwork, 'none');
});
