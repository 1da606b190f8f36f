/**
 * Builds that use a registry: FROM pulling on demand, --pull when a tag moved, --push, and build
 * cache shared through the registry between two stores (two CI machines).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importBusybox } from '../helpers/base-image.js';
import { gantry, gantryOk, isRoot, tempDir } from '../helpers/gantry.js';
import { stepOutcomes, summary } from '../helpers/build-events.js';
import { startRegistry, type RegistryServer } from '../registry/helpers/registry-server.js';

const skip = !isRoot && 'builds run containers and mount overlays: needs root';

let registry: RegistryServer;
const dirs: Array<{ path: string; cleanup(): Promise<void> }> = [];
let machineA: string;
let context: string;

async function temp(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  dirs.push(dir);
  return dir.path;
}

before(async () => {
  if (skip) return;
  registry = await startRegistry();
  machineA = await temp('ci-a');
  await importBusybox(machineA);
  await gantryOk(machineA, ['tag', 'busybox:latest', `${registry.host}/base:1`]);
  await gantryOk(machineA, ['push', '-q', `${registry.host}/base:1`]);
  context = await temp('registry-context');
  await mkdir(join(context, 'app'));
  await writeFile(join(context, 'app', 'main.sh'), 'echo hello\n');
  await writeFile(
    join(context, 'Dockerfile'),
    `FROM ${registry.host}/base:1 AS build
COPY app/ /app/
RUN echo "compiled at build time" > /app/out.txt
FROM ${registry.host}/base:1
COPY --from=build /app /app
RUN cat /app/out.txt
`,
  );
});

after(async () => {
  await registry?.stop();
  for (const dir of dirs) await dir.cleanup();
});

test('FROM pulls a base image that is not local, and --push publishes the result', { skip }, async () => {
  const machine = await temp('ci-pull');
  const built = await gantryOk(machine, ['build', '-q', '-t', `${registry.host}/app:1`, '--push', context]);
  const digest = built.stdout.trim();
  assert.match(digest, /^sha256:[a-f0-9]{64}$/);
  const inspected = JSON.parse((await gantryOk(machine, ['manifest', 'inspect', `${registry.host}/app:1`])).stdout) as { layers: unknown[] };
  assert.equal(inspected.layers.length, 3, 'base layer, COPY, RUN');
});

test('a registry cache lets another machine rebuild without running any step', { skip }, async () => {
  const cacheRef = `${registry.host}/cache:app`;
  const first = await gantryOk(machineA, ['build', '-q', '--cache-to', `type=registry,ref=${cacheRef},mode=max`, context]);
  const machineB = await temp('ci-b');
  const second = await gantryOk(machineB, ['build', '--progress', 'json', '--cache-from', `type=registry,ref=${cacheRef}`, context]);
  const outcomes = stepOutcomes(second.stderr);
  assert.equal(outcomes.length, 4);
  assert.ok(outcomes.every((s) => s.cached && !s.logged), summary(second.stderr).join('\n'));
  const result = JSON.parse(second.stderr.trim().split('\n').at(-1) as string) as { type: string; digest: string };
  assert.equal(result.type, 'result');
  assert.equal(result.digest, first.stdout.trim(), 'the same image digest on both machines');
});

test('a base tag moved in the registry: --pull misses everything and names the base change', { skip }, async () => {
  const machine = await temp('ci-moved');
  await gantryOk(machine, ['build', '-q', context]);
  // Publish a different image under the same tag.
  const other = await temp('moved-base-context');
  await writeFile(join(other, 'Dockerfile'), 'FROM busybox\nRUN echo v2 > /base-version\n');
  await gantryOk(machineA, ['build', '-q', '-t', `${registry.host}/base:1`, '--push', other]);

  const noPull = await gantryOk(machine, ['build', '--progress', 'json', context]);
  assert.ok(stepOutcomes(noPull.stderr).every((s) => s.cached), 'without --pull the local tag is used');

  const pulled = await gantryOk(machine, ['build', '--progress', 'json', '--pull', context]);
  const outcomes = stepOutcomes(pulled.stderr);
  assert.ok(outcomes.every((s) => !s.cached), summary(pulled.stderr).join('\n'));
  assert.match(outcomes[0].cause ?? '', new RegExp(`^base image ${registry.host.replace(/\./g, '\\.')}/base:1: sha256:[a-f0-9]{12}… → sha256:[a-f0-9]{12}…$`));
});

test('a base image missing everywhere fails with a clear message', { skip }, async () => {
  const machine = await temp('ci-missing');
  const dir = await temp('missing-context');
  await writeFile(join(dir, 'Dockerfile'), `FROM ${registry.host}/does-not-exist:1\nRUN true\n`);
  const result = await gantry(machine, ['build', dir]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /does-not-exist/);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
