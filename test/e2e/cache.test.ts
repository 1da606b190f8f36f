/**
 * The build cache is never stale and explains every miss: real builds, changing one input at a time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importBusybox } from '../helpers/base-image.js';
import { gantryOk, isRoot, tempDir } from '../helpers/gantry.js';
import { summary } from '../helpers/build-events.js';
import { sha256 } from '../../src/util/digest.js';

const skip = !isRoot && 'builds run containers and mount overlays: needs root';

let root: { path: string; cleanup(): Promise<void> };
let context: { path: string; cleanup(): Promise<void> };

const dockerfile = `FROM busybox
COPY src/ /src/
RUN cat /src/a.txt > /copy.txt
ARG VERSION=1
RUN echo "version $VERSION" > /version.txt
RUN echo after > /after.txt
`;

async function build(...extra: string[]): Promise<string[]> {
  const result = await gantryOk(root.path, ['build', '--progress', 'json', ...extra, '-t', 'cache-test:latest', context.path]);
  return summary(result.stderr);
}

before(async () => {
  if (skip) return;
  root = await tempDir('cache-root');
  context = await tempDir('cache-context');
  await importBusybox(root.path);
  await mkdir(join(context.path, 'src'));
  await writeFile(join(context.path, 'Dockerfile'), dockerfile);
  await writeFile(join(context.path, '.dockerignore'), 'src/ignored.txt\n');
  await writeFile(join(context.path, 'src', 'a.txt'), 'alpha\n');
  await writeFile(join(context.path, 'src', 'ignored.txt'), 'not sent\n');
});

after(async () => {
  await root?.cleanup();
  await context?.cleanup();
});

test('the first build misses everywhere and the same build again hits everywhere', { skip }, async () => {
  assert.deepEqual(await build(), [
    'COPY src/ /src/ → miss: first build of this step',
    'RUN cat /src/a.txt > /copy.txt → miss: first build of this step',
    'RUN echo "version 1" > /version.txt → miss: first build of this step',
    'RUN echo after > /after.txt → miss: first build of this step',
  ]);
  assert.deepEqual(await build(), [
    'COPY src/ /src/ → hit',
    'RUN cat /src/a.txt > /copy.txt → hit',
    'RUN echo "version 1" > /version.txt → hit',
    'RUN echo after > /after.txt → hit',
  ]);
});

test('new content with the same size and mtime misses, and the miss names the file', { skip }, async () => {
  const file = join(context.path, 'src', 'a.txt');
  const before = await stat(file);
  await writeFile(file, 'omega\n');
  await utimes(file, before.atime, before.mtime);
  const outcome = await build();
  assert.match(outcome[0], /^COPY src\/ \/src\/ → miss: .*a\.txt content changed/);
  assert.equal(outcome[1], 'RUN cat /src/a.txt > /copy.txt → miss: parent step missed');
  assert.equal(outcome[3], 'RUN echo after > /after.txt → miss: parent step missed');
});

test('a mode change misses', { skip }, async () => {
  await chmod(join(context.path, 'src', 'a.txt'), 0o755);
  const outcome = await build();
  assert.match(outcome[0], /^COPY src\/ \/src\/ → miss: .*a\.txt mode changed 0644 → 0755/);
});

test('a change of mtime alone hits', { skip }, async () => {
  const file = join(context.path, 'src', 'a.txt');
  await utimes(file, new Date(), new Date(Date.now() + 60_000));
  assert.ok((await build()).every((line) => line.endsWith('→ hit')));
});

test('a change in an ignored file hits', { skip }, async () => {
  await writeFile(join(context.path, 'src', 'ignored.txt'), 'changed, still not sent\n');
  assert.ok((await build()).every((line) => line.endsWith('→ hit')));
});

test('a build arg used by a RUN misses from that RUN on, naming the arg', { skip }, async () => {
  assert.deepEqual(await build('--build-arg', 'VERSION=2'), [
    'COPY src/ /src/ → hit',
    'RUN cat /src/a.txt > /copy.txt → hit',
    'RUN echo "version 2" > /version.txt → miss: build arg VERSION: 1 → 2',
    // BuildKit's rule: an ARG is in the environment of every RUN after its declaration.
    'RUN echo after > /after.txt → miss: build arg VERSION: 1 → 2',
  ]);
});

test('--no-cache reuses nothing', { skip }, async () => {
  assert.ok((await build('--build-arg', 'VERSION=2', '--no-cache')).every((line) => line.endsWith('→ miss: --no-cache')));
});

test('--no-cache-filter rebuilds the named stages and reuses the others', { skip }, async () => {
  const multi = `FROM busybox AS one
RUN echo one > /one
FROM busybox AS two
RUN echo two > /two
FROM busybox AS three
RUN echo three > /three
FROM busybox
COPY --from=one /one /one
COPY --from=two /two /two
COPY --from=three /three /three
`;
  await writeFile(join(context.path, 'Dockerfile.multi'), multi);
  const run = async (...extra: string[]) =>
    summary((await gantryOk(root.path, ['build', '--progress', 'json', '-f', join(context.path, 'Dockerfile.multi'), ...extra, context.path])).stderr);
  await run();
  const outcome = await run('--no-cache-filter', 'one,two');
  assert.ok(outcome.includes('RUN echo one > /one → miss: --no-cache-filter one'), outcome.join('\n'));
  assert.ok(outcome.includes('RUN echo two > /two → miss: --no-cache-filter two'), outcome.join('\n'));
  assert.ok(outcome.includes('RUN echo three > /three → hit'), outcome.join('\n'));
});

test('--explain prints a table with every step, its result and cause', { skip }, async () => {
  const result = await gantryOk(root.path, ['build', '--progress', 'quiet', '--explain', '--build-arg', 'VERSION=3', context.path]);
  assert.match(result.stderr, /STEP\s+RESULT\s+TIME\s+CAUSE/);
  assert.match(result.stderr, /RUN echo "version 3" > \/version.txt\s+miss\s+[\d.]+s\s+build arg VERSION: 2 → 3/);
  assert.match(result.stderr, /COPY src\/ \/src\/\s+hit/);
});

test('an imported cache record whose layer is not what its diff ID says is refused, and its step runs', { skip }, async () => {
  const cacheDir = join(context.path, '..', `${context.path.split('/').pop()}-poisoned-cache`);
  await gantryOk(root.path, ['build', '--progress', 'quiet', '-q', '--cache-to', `type=local,dest=${cacheDir},mode=max`, context.path]);
  // Rewrite the cache document: the last step's record keeps its layer but claims another diff ID.
  const blob = (digest: string) => join(cacheDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const index = JSON.parse(await readFile(join(cacheDir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number }> };
  const manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as { config: { digest: string; size: number } };
  const document = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as { records: Array<{ description: string; layer: { diffId: string } }> };
  const poisoned = document.records.find((record) => record.description.includes('echo after'));
  assert.ok(poisoned, 'the cache holds the last step');
  poisoned.layer.diffId = sha256('not the layer');
  const write = async (bytes: Buffer): Promise<{ digest: string; size: number }> => {
    await writeFile(blob(sha256(bytes)), bytes);
    return { digest: sha256(bytes), size: bytes.length };
  };
  manifest.config = { ...manifest.config, ...(await write(Buffer.from(JSON.stringify(document)))) };
  index.manifests[0] = { ...index.manifests[0]!, ...(await write(Buffer.from(JSON.stringify(manifest)))) };
  await writeFile(join(cacheDir, 'index.json'), JSON.stringify(index));

  const other = await tempDir('cache-poisoned-root');
  try {
    await importBusybox(other.path);
    const result = await gantryOk(other.path, ['build', '--progress', 'json', '--cache-from', `type=local,src=${cacheDir}`, context.path]);
    assert.match(result.stderr, /imported \d+ cache records from .* \(1 refused: their layer does not match their diff ID\)/);
    const steps = summary(result.stderr);
    assert.ok(steps.some((line) => /RUN echo after > \/after\.txt → miss/.test(line)), steps.join('\n'));
    assert.ok(steps.filter((line) => line.endsWith('→ hit')).length >= 3, steps.join('\n'));
  } finally {
    await other.cleanup();
  }
});

test('a local cache export restores every step into an empty store', { skip }, async () => {
  const cacheDir = join(context.path, '..', `${context.path.split('/').pop()}-cache`);
  const first = await gantryOk(root.path, ['build', '--progress', 'quiet', '-q', '--cache-to', `type=local,dest=${cacheDir},mode=max`, context.path]);
  const other = await tempDir('cache-other-root');
  try {
    await importBusybox(other.path);
    const result = await gantryOk(other.path, ['build', '--progress', 'json', '--cache-from', `type=local,src=${cacheDir}`, context.path]);
    const steps = summary(result.stderr);
    assert.ok(steps.length > 0 && steps.every((line) => line.endsWith('→ hit')), steps.join('\n'));
    const digest = /"type":"result","digest":"(sha256:[a-f0-9]{64})"/.exec(result.stderr)?.[1];
    assert.equal(`${digest}\n`, first.stdout, 'the same image digest');
  } finally {
    await other.cleanup();
  }
});
