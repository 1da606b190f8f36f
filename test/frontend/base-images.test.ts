import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BaseImages } from '../../src/frontend/base-images.js';
import { BuildArgs } from '../../src/frontend/build-args.js';
import { StageGraph } from '../../src/frontend/stage-graph.js';
import type { ImageResolver } from '../../src/frontend/index.js';
import { GantryError } from '../../src/util/errors.js';
import { amd64, arm64, BASE_PATH, fakeResolver, parsedForPhases, type FakeImage } from './fixtures.js';

function basesOf(text: string, images: Record<string, FakeImage> = {}, resolveImage?: ImageResolver) {
  const parsed = parsedForPhases(text);
  const args = BuildArgs.create(parsed.definition, { values: {}, targetPlatform: amd64, buildPlatform: amd64, targetStage: '' }, parsed.lexer, parsed.source, parsed.lint);
  const graph = new StageGraph(parsed.definition, { args, lexer: parsed.lexer, source: parsed.source, lint: parsed.lint, buildPlatform: amd64 });
  const resolver = fakeResolver(images);
  return { graph, resolver, bases: new BaseImages(graph, resolveImage ?? resolver, amd64, parsed.source, parsed.lint), warnings: parsed.lint.warnings };
}

test('each reference and platform is resolved once; stage-based nodes have no base of their own', async () => {
  const { graph, resolver, bases } = basesOf('FROM alpine AS a\nFROM alpine AS b\nFROM --platform=linux/arm64 alpine AS c\nFROM a AS d\nCOPY --from=alpine / /\n');
  await bases.resolve(graph.nodes);
  await bases.resolve(graph.nodes);
  assert.deepEqual(resolver.calls.sort(), ['docker.io/library/alpine:latest linux/amd64', 'docker.io/library/alpine:latest linux/arm64']);
  assert.equal(bases.get(graph.stage('d')!), undefined);
  assert.deepEqual(bases.get(graph.stage('c')!)?.platform, arm64);
  // Each node gets its own copy of the config, which its stage changes.
  assert.notEqual(bases.get(graph.stage('a')!)?.config, bases.get(graph.stage('b')!)?.config);
});

test('scratch: the target platform, Docker\'s PATH, no image; reading files from it is an error', async () => {
  const { graph, bases } = basesOf('FROM scratch\nRUN --mount=type=cache,target=/c true\n');
  await bases.resolve(graph.nodes);
  const base = bases.get(graph.nodes[0]!)!;
  assert.deepEqual([base.image, base.platform, base.os, base.config], [undefined, amd64, 'linux', { Env: [`PATH=${BASE_PATH}`], WorkingDir: '/' }]);
  assert.throws(() => bases.input(graph.nodes[1]!, 2, 'COPY --from=scratch'), /COPY --from=scratch: scratch has no files/);
});

test('an image read from becomes an input pinned to its digest', async () => {
  const { graph, bases } = basesOf('FROM scratch\nCOPY --from=busybox:1.36 /bin/sh /sh\n');
  await bases.resolve(graph.nodes);
  assert.deepEqual(bases.input(graph.nodes[1]!, 2, 'COPY'), { kind: 'image', ref: `docker.io/library/busybox:1.36@sha256:${'0'.repeat(63)}1` });
});

test('InvalidBaseImagePlatform, and resolver failures located at the line reading the image', async () => {
  const { graph, bases, warnings } = basesOf('FROM alpine\n', { alpine: { platform: arm64 } });
  await bases.resolve(graph.nodes);
  assert.deepEqual(warnings.map((w) => [w.rule, w.detail]), [['InvalidBaseImagePlatform', 'Base image alpine was pulled with platform "linux/arm64", expected "linux/amd64" for current build']]);
  const failing = basesOf('FROM scratch\nENV A=1\nCOPY --from=ubuntu:latets / /\n', {}, async () => {
    throw new GantryError('manifest unknown');
  });
  await assert.rejects(failing.bases.resolve(failing.graph.nodes), (err: unknown) => err instanceof GantryError && err.message === 'ubuntu:latets: manifest unknown' && err.location?.line === 3);
});
