import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkImages } from '../../bench/check.js';
import type { BuildTool } from '../../bench/tools/tool.js';
import type { Workload } from '../../bench/workloads.js';
import { GantryError } from '../../src/util/errors.js';

const workload: Pick<Workload, 'name' | 'platforms' | 'check'> = {
  name: 'multi-platform',
  platforms: ['linux/amd64', 'linux/arm64'],
  check: { script: 'uname -m', expectedOutput: (platform) => (platform === 'linux/arm64' ? 'aarch64\n' : 'x86_64\n') },
};

/** A tool whose images answer with `outputs` per platform; an absent platform fails to run. */
function fakeTool(outputs: Record<string, string>, calls: string[] = []): Pick<BuildTool, 'title' | 'runInImage'> {
  return {
    title: 'Fake',
    async runInImage(tag, platform, script) {
      calls.push(`${tag} ${platform} ${script}`);
      const output = outputs[platform ?? 'default'];
      if (output === undefined) throw new Error(`no ${platform} image`);
      return output;
    },
  };
}

test('every platform\'s image is asked, and right images pass', async () => {
  const calls: string[] = [];
  assert.equal(await checkImages(fakeTool({ 'linux/amd64': 'x86_64\n', 'linux/arm64': 'aarch64\n' }, calls), workload, 'app:1', 'linux/amd64'), undefined);
  assert.deepEqual(calls, ['app:1 linux/amd64 uname -m', 'app:1 linux/arm64 uname -m']);
});

test('a platform whose image is wrong or missing is named with what it printed or why it failed', async () => {
  const wrong = await checkImages(fakeTool({ 'linux/amd64': 'x86_64\n', 'linux/arm64': 'x86_64\n' }), workload, 'app:1', 'linux/amd64');
  assert.equal(wrong, 'linux/arm64: `uname -m` printed "x86_64\\n", expected "aarch64\\n"');
  const missing = await checkImages(fakeTool({ 'linux/amd64': 'x86_64\n' }), workload, 'app:1', 'linux/amd64');
  assert.equal(missing, 'linux/arm64: no linux/arm64 image');
});

test('a workload without a check needs nothing of the tool; a tool that cannot run images fails a check loudly', async () => {
  assert.equal(await checkImages({ title: 'Fake' }, { name: 'two-stage' }, 'app:1', 'linux/amd64'), undefined);
  await assert.rejects(checkImages({ title: 'Fake' }, workload, 'app:1', 'linux/amd64'), (err: unknown) => err instanceof GantryError && /Fake cannot run a command/.test(err.message));
});

test('a single-platform workload is checked in the image of the tool\'s default platform', async () => {
  const calls: string[] = [];
  const single = { ...workload, platforms: undefined };
  assert.equal(await checkImages(fakeTool({ default: 'x86_64\n' }, calls), single, 'app:1', 'linux/amd64'), undefined);
  assert.deepEqual(calls, ['app:1 undefined uname -m']);
});
