import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildArgs, type BuildArgsOptions } from '../../src/frontend/build-args.js';
import { amd64, arm64, parsedForPhases } from './fixtures.js';

function argsOf(text: string, options: Partial<BuildArgsOptions> = {}) {
  const parsed = parsedForPhases(text);
  const args = BuildArgs.create(parsed.definition, { values: {}, targetPlatform: arm64, buildPlatform: amd64, targetStage: '', ...options }, parsed.lexer, parsed.source, parsed.lint);
  return { args, warnings: parsed.lint.warnings };
}

test('predefined args come from the platforms and the target stage; a --build-arg overrides them', () => {
  const { args } = argsOf('FROM scratch\n', { targetPlatform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
  assert.equal(args.global.get('BUILDPLATFORM'), 'linux/amd64');
  assert.equal(args.global.get('TARGETPLATFORM'), 'linux/arm/v7');
  assert.deepEqual(['TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'TARGETSTAGE'].map((name) => args.global.get(name)), ['linux', 'arm', 'v7', 'default']);
  assert.equal(argsOf('FROM scratch AS out\n', { targetStage: 'out' }).args.global.get('TARGETSTAGE'), 'out');
  assert.equal(argsOf('FROM scratch\n', { values: { TARGETARCH: 'riscv64' } }).args.global.get('TARGETARCH'), 'riscv64');
});

test('global ARGs expand in order with the predefined args; --build-arg values win over defaults', () => {
  const text = 'ARG OS=$TARGETOS\nARG IMAGE=base-${OS}\nARG EMPTY\nFROM $IMAGE\n';
  assert.equal(argsOf(text).args.global.get('IMAGE'), 'base-linux');
  const { args } = argsOf(text, { values: { OS: 'other' } });
  assert.equal(args.global.get('IMAGE'), 'base-other');
  assert.equal(args.global.has('EMPTY'), false);
  // FROM may name every global ARG, valued or not, and the predefined args.
  assert.deepEqual(args.fromNames.slice(0, 3), ['OS', 'IMAGE', 'EMPTY']);
  assert.ok(args.fromNames.includes('TARGETPLATFORM'));
});

test('an ARG in a stage: its --build-arg, else its default, else the global of its name', () => {
  const { args } = argsOf('ARG VERSION=1.0\nARG UNSET\nFROM scratch\n', { values: { GIVEN: 'cli' } });
  const expand = (word: string) => `<${word}>`;
  assert.equal(args.stageValue({ key: 'GIVEN', value: 'default' }, expand), 'cli');
  assert.equal(args.stageValue({ key: 'LOCAL', value: 'x' }, expand), '<x>');
  assert.equal(args.stageValue({ key: 'VERSION' }, expand), '1.0');
  assert.equal(args.stageValue({ key: 'TARGETARCH' }, expand), 'arm64');
  assert.equal(args.stageValue({ key: 'UNSET' }, expand), undefined);
  assert.equal(args.stageValue({ key: 'NOWHERE' }, expand), undefined);
});

test('unused --build-args: those no global or stage ARG declared, leaving out the ones BuildKit reads itself', () => {
  const { args } = argsOf('ARG GLOBAL\nFROM scratch\n', {
    values: { GLOBAL: '1', STAGE: '2', EXTRA: '3', BUILDKIT_INLINE_CACHE: '1', HTTPS_PROXY: 'p', TARGETOS: 'linux', SOURCE_DATE_EPOCH: '0' },
  });
  assert.equal(args.unusedWarning()?.detail, 'One or more build-args [STAGE EXTRA] were not consumed');
  args.stageValue({ key: 'STAGE' }, (word) => word);
  assert.equal(args.unusedWarning()?.detail, 'One or more build-args [EXTRA] were not consumed');
  assert.equal(argsOf('FROM scratch\n').args.unusedWarning(), undefined);
  assert.equal(argsOf('FROM scratch\n', { values: { BUILDKIT_CACHE_MOUNT_NS: 'ns' } }).args.builtin('BUILDKIT_CACHE_MOUNT_NS'), 'ns');
});

test('InvalidDefaultArgInFrom is checked on the defaults alone; a bad default stops with its location', () => {
  const { warnings } = argsOf('ARG TAG\nFROM alpine:$TAG\n', { values: { TAG: '3.20' } });
  assert.deepEqual(warnings.map((w) => [w.rule, w.location?.line]), [['InvalidDefaultArgInFrom', 2]]);
  assert.throws(() => argsOf('ARG A=${B\nFROM scratch\n'), (err: unknown) => (err as { location?: { line: number } }).location?.line === 1);
});
