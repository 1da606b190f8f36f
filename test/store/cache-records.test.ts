/** The build cache's step-input records are bounded: by age, then by total size, oldest first. */
import assert from 'node:assert/strict';
import { readdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { CacheStore, type StepInputs } from '../../src/store/cache-records.js';
import { sha256, type Digest } from '../../src/util/digest.js';
import { tempDir } from '../helpers/gantry.js';

let dir: { path: string; cleanup(): Promise<void> };
before(async () => {
  dir = await tempDir('cache-records');
});
after(async () => dir.cleanup());

function inputs(key: Digest, padding: number): StepInputs {
  return { key, parentKey: key, instruction: `RUN ${'x'.repeat(padding)}`, platform: 'linux/amd64', buildArgs: [], env: [], fields: {} };
}

it('pruneInputs drops records older than the age limit, then the oldest past the size limit', async () => {
  const cache = new CacheStore(join(dir.path, 'cache'));
  const now = Date.now();
  const day = 86400_000;
  const ages = [0, 1, 2, 40, 3];
  for (const [i, age] of ages.entries()) {
    const identity = sha256(`step ${i}`);
    await cache.putInputs(identity, inputs(identity, 1000));
    const when = new Date(now - age * day);
    await utimes(join(dir.path, 'cache', 'inputs', `${identity.slice(7)}.json`), when, when);
  }
  const size = (await cache.getInputs(sha256('step 0'))) ? JSON.stringify(inputs(sha256('step 0'), 1000)).length : 0;
  // Room for three records: the 40-day-old one goes by age, then the oldest of the rest (3 days) by size.
  const removed = await cache.pruneInputs({ maxAgeDays: 30, maxBytes: 3 * size + 10 }, now);
  assert.deepEqual(removed, { records: 2, bytes: 2 * size });
  for (const [i, present] of [true, true, true, false, false].entries()) {
    assert.equal((await cache.getInputs(sha256(`step ${i}`))) !== undefined, present, `step ${i}`);
  }
  assert.equal((await readdir(join(dir.path, 'cache', 'inputs'))).length, 3);
});
