import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { buildahBuildArgs } from '../../bench/tools/buildah.js';
import { CHECKOUT_GANTRY, gantryBuildArgs } from '../../bench/tools/gantry.js';
import { architectureOf, baseRootfsTar, type ToolSetting } from '../../bench/tools/tool.js';

const platforms = ['linux/amd64', 'linux/arm64'];

test("gantry: the checkout's command is the bundle npm run build makes", () => {
  assert.ok(existsSync(CHECKOUT_GANTRY), `${CHECKOUT_GANTRY} is missing`);
  assert.match(CHECKOUT_GANTRY, /dist\/bin\/gantry\.js$/);
});

test('gantry: one build command, with --platform only when the workload names platforms', () => {
  assert.deepEqual(gantryBuildArgs({ contextDir: 'CTX', tag: 'app:1' }, 'host'), ['build', '-q', '--network', 'host', '-t', 'app:1', 'CTX']);
  assert.deepEqual(gantryBuildArgs({ contextDir: 'CTX', tag: 'app:1', platforms }, 'default'), ['build', '-q', '--network', 'default', '--platform', 'linux/amd64,linux/arm64', '-t', 'app:1', 'CTX']);
});

test('Buildah: a single platform is tagged; several go into a manifest list, with the build platform spelled out', () => {
  const common = ['build', '--layers', '--runtime', 'runc', '--isolation', 'oci', '--network', 'host', '--pull=never'];
  assert.deepEqual(buildahBuildArgs({ contextDir: 'CTX', tag: 'app:1' }, 'linux/amd64'), [...common, '-q', '-t', 'app:1', 'CTX']);
  assert.deepEqual(buildahBuildArgs({ contextDir: 'CTX', tag: 'app:1', platforms }, 'linux/amd64'), [
    ...common,
    '--platform', 'linux/amd64,linux/arm64',
    '--build-arg', 'BUILDPLATFORM=linux/amd64',
    '--manifest', 'app:1',
    '-q',
    'CTX',
  ]);
});

test('base images per platform: the architecture names them; a platform without a root filesystem is an error', () => {
  assert.equal(architectureOf('linux/arm64'), 'arm64');
  assert.throws(() => architectureOf('linux'), /not an os\/arch platform/);
  const setting: ToolSetting = { stateDir: '/state', trashDir: '/trash', hostPlatform: 'linux/amd64', baseRootfsTars: new Map([['linux/amd64', '/amd64.tar']]) };
  assert.equal(baseRootfsTar(setting, 'linux/amd64'), '/amd64.tar');
  assert.throws(() => baseRootfsTar(setting, 'linux/arm64'), /no base root filesystem for linux\/arm64/);
});
