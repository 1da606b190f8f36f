import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiarReference, normalizeReference, parseReference } from '../../src/image/reference.js';
import { formatPlatform, normalizePlatform, parsePlatformFlag, platformMatchRank } from '../../src/image/platform.js';
import { isGantryError } from '../../src/util/errors.js';

test('references normalize as Docker does', () => {
  assert.equal(normalizeReference('alpine'), 'docker.io/library/alpine:latest');
  assert.equal(normalizeReference('team/app:1'), 'docker.io/team/app:1');
  assert.equal(normalizeReference('index.docker.io/library/alpine:3'), 'docker.io/library/alpine:3');
  assert.equal(normalizeReference('localhost:5000/app'), 'localhost:5000/app:latest');
  assert.equal(normalizeReference('localhost/app'), 'localhost/app:latest');
  assert.equal(normalizeReference('127.0.0.1:5000/a/b/c:v1.2'), '127.0.0.1:5000/a/b/c:v1.2');
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(parseReference(`app@${digest}`), { registry: 'docker.io', repository: 'library/app', digest });
  assert.equal(familiarReference(parseReference('docker.io/library/alpine:3.20')), 'alpine:3.20');
  assert.equal(familiarReference(parseReference('localhost:5000/app:1')), 'localhost:5000/app:1');
});

test('bad references are GantryErrors with Docker\'s wording', () => {
  for (const [text, message] of [
    ['Alpine', /must be lowercase/],
    ['app:tag:extra', /invalid reference format/],
    ['a'.repeat(64), /cannot specify 64-byte hexadecimal strings/],
    [`app@sha256:${'a'.repeat(10)}`, /invalid reference format|invalid checksum/],
    ['', /at least one component|invalid reference format/],
  ] as const) {
    assert.throws(() => parseReference(text), (err: unknown) => isGantryError(err) && message.test(err.message), text);
  }
});

test('platform flags normalize aliases and refuse unknown names', () => {
  assert.equal(formatPlatform(parsePlatformFlag('linux/x86_64')), 'linux/amd64');
  assert.equal(formatPlatform(parsePlatformFlag('linux/aarch64')), 'linux/arm64');
  assert.equal(formatPlatform(parsePlatformFlag('linux/arm64/v8')), 'linux/arm64');
  assert.equal(formatPlatform(parsePlatformFlag('linux/arm')), 'linux/arm/v7');
  assert.equal(formatPlatform(parsePlatformFlag('linux/armhf')), 'linux/arm/v7');
  assert.throws(() => parsePlatformFlag('linux'), /expected os\/arch/);
  assert.throws(() => parsePlatformFlag('linux/armx64'), /unknown architecture "armx64"/);
  assert.throws(() => parsePlatformFlag('lunix/amd64'), /unknown operating system "lunix"/);
});

test('matching follows containerd: exact first, older arm variants, amd64 without variant', () => {
  const p = (text: string) => normalizePlatform(parsePlatformFlag(text));
  assert.equal(platformMatchRank(p('linux/amd64'), p('linux/amd64')), 0);
  assert.equal(platformMatchRank(p('linux/amd64'), p('linux/arm64')), undefined);
  assert.equal(platformMatchRank(p('linux/arm64'), p('linux/arm64')), 0);
  assert.ok((platformMatchRank(p('linux/arm/v7'), p('linux/arm/v6')) ?? -1) > 0, 'v6 runs on v7');
  assert.equal(platformMatchRank(p('linux/arm/v6'), p('linux/arm/v7')), undefined, 'v7 does not run on v6');
  assert.equal(platformMatchRank(p('linux/amd64'), p('windows/amd64')), undefined);
});
