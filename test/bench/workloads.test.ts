import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { changeOneFile, dockerfileOf, generateContext, WORKLOADS, type Workload } from '../../bench/workloads.js';

function workload(name: string): Workload {
  const found = WORKLOADS.find((w) => w.name === name);
  assert.ok(found, `workload ${name}`);
  return found;
}

function paths(w: Workload): string[] {
  return [...w.files()].map(([path]) => path);
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

const SINGLE_PLATFORM = WORKLOADS.filter((w) => w.platforms === undefined);

test('every workload builds FROM the base image and changes a file it has; single-platform ones compare all three tools against BuildKit', () => {
  assert.deepEqual(WORKLOADS.map((w) => w.name), ['two-stage', 'large-context', 'parallel-stages', 'large-layer', 'multi-platform']);
  for (const w of WORKLOADS) {
    assert.ok(paths(w).includes(w.changedFile), w.name);
    assert.match(dockerfileOf(w), /^FROM (--platform=\S+ )?busybox:latest/, w.name);
    assert.ok(w.tools.includes(w.baseline) && w.tools.includes('gantry'), w.name);
  }
  assert.deepEqual(SINGLE_PLATFORM.map((w) => w.name), ['two-stage', 'large-context', 'parallel-stages', 'large-layer']);
  for (const w of SINGLE_PLATFORM) {
    assert.deepEqual(w.tools, ['gantry', 'buildah', 'buildkit']);
    assert.equal(w.baseline, 'buildkit');
    assert.equal(w.leftOut, undefined);
  }
});

test('the issue\'s targets: no-op 0.5, one-file change 0.7, cold 1.0, but 0.6 for the 512 MiB layer', () => {
  for (const w of SINGLE_PLATFORM) {
    assert.equal(w.targets.noop, 0.5);
    assert.equal(w.targets.change, 0.7);
    assert.equal(w.targets.cold, w.name === 'large-layer' ? 0.6 : 1.0);
  }
});

test('two-stage: 200 source files in two stages', () => {
  const w = workload('two-stage');
  const files = paths(w);
  assert.equal(files.filter((p) => p.startsWith('src/')).length, 200);
  assert.equal(files.length, 201);
  assert.equal((dockerfileOf(w)).match(/^FROM /gm)?.length, 2);
});

test('large-context: 30,000 files, 24,500 of them excluded by .dockerignore', () => {
  const w = workload('large-context');
  const files = paths(w);
  const contents = new Map(w.files());
  assert.equal(contents.get('.dockerignore'), 'node_modules\n.cache\n**/*.log\n');
  const generated = files.filter((p) => p !== 'Dockerfile' && p !== '.dockerignore');
  assert.equal(generated.length, 30_000);
  assert.equal(new Set(files).size, files.length);
  const isIgnored = (p: string) => p.startsWith('node_modules/') || p.startsWith('.cache/') || p.endsWith('.log');
  assert.equal(generated.filter(isIgnored).length, 24_500);
  assert.ok(!isIgnored(w.changedFile));
});

test('parallel-stages: four independent stages with a one-second RUN each, gathered by a fifth', () => {
  const dockerfile = dockerfileOf(workload('parallel-stages'));
  assert.equal(dockerfile.match(/^RUN sleep 1 /gm)?.length, 4);
  assert.equal(dockerfile.match(/^FROM busybox:latest AS stage\d$/gm)?.length, 4);
  // Independent: no stage builds on or copies from another, except the final one.
  const stages = dockerfile.split(/^FROM /m).slice(1, 5);
  for (const stage of stages) assert.doesNotMatch(stage, /--from=|^stage/m);
});

test('large-layer: one RUN writing 256 MiB of random bytes and 256 MiB of zeros', () => {
  const dockerfile = dockerfileOf(workload('large-layer'));
  const runs = dockerfile.match(/^RUN .*$/gm) ?? [];
  assert.equal(runs.length, 1);
  assert.match(runs[0] ?? '', /if=\/dev\/urandom .*bs=1M count=256 .*if=\/dev\/zero .*bs=1M count=256/);
});

test('multi-platform: amd64 and arm64 against Buildah at 0.7×, BuildKit left out with the reason', () => {
  const w = workload('multi-platform');
  assert.deepEqual(w.platforms, ['linux/amd64', 'linux/arm64']);
  assert.deepEqual(w.tools, ['gantry', 'buildah']);
  assert.equal(w.baseline, 'buildah');
  assert.deepEqual(w.targets, { cold: 0.7, noop: 0.7, change: 0.7 });
  assert.match(w.leftOut?.buildkit ?? '', /image store cannot hold a multi-platform image/);
  assert.ok(w.changedFile.startsWith('src/'), 'the change reaches the build-platform stage');
});

test('multi-platform: a build-platform stage for the target architecture, copied after a RUN of the target platform', () => {
  const stages = dockerfileOf(workload('multi-platform')).split(/^(?=FROM )/m);
  assert.equal(stages.length, 2);
  const [build = '', final = ''] = stages;
  assert.match(build, /^FROM --platform=\$BUILDPLATFORM busybox:latest AS build\nARG TARGETARCH\n/);
  assert.match(build, /^COPY src\/ \.\/$/m);
  assert.match(build, /^RUN .*uname -m > \/out\/build-arch.*\$TARGETARCH/m);
  assert.match(final, /^FROM --platform=\$TARGETPLATFORM busybox:latest\n/);
  const finalSteps = final.split('\n').filter((line) => /^(RUN|COPY) /.test(line));
  assert.match(finalSteps[0] ?? '', /^RUN uname -m > \/arch && /, 'the emulated RUN comes first: a source change leaves it cached');
  assert.equal(finalSteps[1], 'COPY --from=build /out/ /app/');
});

test('multi-platform: the check expects each platform\'s machine, the host\'s for the build stage, and the target architecture', () => {
  const check = workload('multi-platform').check;
  assert.ok(check);
  assert.equal(check.expectedOutput('linux/arm64', 'linux/amd64'), 'aarch64 aarch64 x86_64 arm64\n');
  assert.equal(check.expectedOutput('linux/amd64', 'linux/amd64'), 'x86_64 x86_64 x86_64 amd64\n');
  assert.equal(check.expectedOutput('linux/amd64', 'linux/arm64'), 'x86_64 x86_64 aarch64 amd64\n');
  assert.throws(() => check.expectedOutput('linux/s390x', 'linux/amd64'), /s390x/);
});

test('generating writes exactly the files; a change gives one file content it never had', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-bench-workload-'));
  try {
    for (const w of WORKLOADS.filter((w) => w.name !== 'large-context')) {
      const context = join(dir, w.name);
      const expected = paths(w).sort();
      assert.equal(await generateContext(w, context), expected.length);
      assert.deepEqual(await listFiles(context), expected);
      const before = new Map(await Promise.all(expected.map(async (p) => [p, await readFile(join(context, p), 'utf8')] as const)));
      const seen = new Set([before.get(w.changedFile)]);
      for (const round of [1, 2, 3]) {
        await changeOneFile(w, context, round);
        const content = await readFile(join(context, w.changedFile), 'utf8');
        assert.ok(!seen.has(content), `${w.name} round ${round}`);
        seen.add(content);
      }
      for (const p of expected) {
        if (p !== w.changedFile) assert.equal(await readFile(join(context, p), 'utf8'), before.get(p), `${w.name}: ${p} untouched`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('changing a file the context lacks fails instead of creating it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-bench-workload-'));
  try {
    await assert.rejects(changeOneFile(workload('large-layer'), dir, 1), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
