import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildArgs } from '../../src/frontend/build-args.js';
import { StageGraph, type StageNode } from '../../src/frontend/stage-graph.js';
import { GantryError } from '../../src/util/errors.js';
import { amd64, parsedForPhases } from './fixtures.js';

function graphOf(text: string, target?: string, values: Record<string, string> = {}) {
  const parsed = parsedForPhases(text);
  const args = BuildArgs.create(parsed.definition, { values, targetPlatform: amd64, buildPlatform: amd64, targetStage: target ?? '' }, parsed.lexer, parsed.source, parsed.lint);
  const graph = new StageGraph(parsed.definition, { args, lexer: parsed.lexer, source: parsed.source, lint: parsed.lint, target, buildPlatform: amd64 });
  return { graph, warnings: parsed.lint.warnings };
}

const names = (nodes: Iterable<StageNode>) => [...nodes].map((node) => node.definition ? node.labelName : `image ${node.baseName}`).sort();

const MULTI = [
  'FROM alpine AS base',
  'FROM base AS deps',
  'RUN --mount=type=cache,target=/c,from=tools true',
  'FROM busybox AS tools',
  'FROM scratch AS unused',
  'COPY --from=golang /x /x',
  'FROM deps AS app',
  'COPY --from=tools /bin/x /x',
  'RUN --mount=type=bind,from=node,target=/n --mount=type=tmpfs,target=/t true',
].join('\n');

test('the stages a target needs: its base chain and what it and they read, not the others', () => {
  const { graph } = graphOf(MULTI);
  assert.equal(graph.target.labelName, 'app');
  assert.deepEqual(names(graph.needed()), ['app', 'base', 'deps', 'image node', 'image scratch', 'tools']);
  assert.deepEqual(names(graphOf(MULTI, 'DEPS').graph.needed()), ['base', 'deps', 'tools']);
  assert.deepEqual(names(graphOf(MULTI, 'unused').graph.needed()), ['image golang', 'unused']);
});

test('nodes: stages in order, then each image read from once, with its base link and the line reading it', () => {
  const { graph } = graphOf(MULTI);
  assert.deepEqual(graph.nodes.map((node) => node.definition?.index ?? node.baseName), [0, 1, 2, 3, 4, 'golang', 'node', 'scratch']);
  assert.equal(graph.stage('deps')?.base, graph.stage('base'));
  assert.equal(graph.lineReading(graph.nodes[5]!), 6);
  const app = graph.stage('app')!;
  assert.deepEqual([...app.deps.entries()].map(([node, line]) => [node.labelName || node.baseName, line]), [['tools', 8], ['node', 9], ['scratch', 9]]);
  assert.deepEqual(app.commands.map((command) => command.sources.map((source) => source?.baseName)), [['busybox'], ['node', 'scratch']]);
});

test('progress counts: the FROM of an image is a step, a stage base or scratch is not; a lone stage has no label name', () => {
  const { graph } = graphOf('FROM alpine AS a\nRUN x\nENV A=1\nFROM a AS b\nCOPY x y\nWORKDIR /w\nFROM scratch AS c\nADD a b\n');
  assert.deepEqual(graph.nodes.map((node) => [node.labelName, node.commandTotal, node.pullsImage]), [['a', 2, true], ['b', 2, false], ['c', 1, false]]);
  assert.equal(graphOf('FROM alpine\nRUN x\n').graph.nodes[0]!.labelName, '');
  assert.equal(graphOf('FROM alpine\nCOPY --from=busybox / /\n').graph.nodes[0]!.labelName, 'stage-0');
});

test('FROM is expanded with the global args; names FROM cannot resolve are reported', () => {
  const { graph, warnings } = graphOf('ARG TAG=3.20\nFROM alpine:${TAG}${SUFFIX} AS a\nFROM --platform=$BUILDPLATFORM a\n', undefined, {});
  assert.equal(graph.nodes[0]!.baseName, 'alpine:3.20');
  assert.deepEqual(graph.nodes[0]!.unsetInFrom, ['SUFFIX']);
  assert.deepEqual(graph.nodes[1]!.platform, amd64);
  assert.deepEqual(warnings.map((w) => w.rule), ['UndefinedArgInFrom']);
});

test('errors: unknown target with suggestions, bad --from, cycles', () => {
  const fails = (text: string, target: string | undefined, message: RegExp, hint?: RegExp) =>
    assert.throws(() => graphOf(text, target), (err: unknown) => err instanceof GantryError && message.test(err.message) && (!hint || hint.test(err.hint ?? '')));
  fails('FROM alpine AS build\nFROM build AS final\n', 'buld', /target stage "buld" could not be found/, /did you mean build\? stages are: build, final/);
  fails('FROM alpine\nCOPY --from=3 / /\n', undefined, /invalid stage index 3/);
  fails('FROM alpine\nCOPY --from=$X / /\n', undefined, /variable expansion is not supported for --from/);
  fails('FROM alpine AS a\nCOPY --from=b / /\nFROM alpine AS b\nCOPY --from=a / /\n', undefined, /circular dependency detected on stage: a/);
});

test('command() adds the nodes an ONBUILD trigger reads; they count for needed()', () => {
  const { graph } = graphOf('FROM alpine AS a\nFROM scratch AS b\n');
  const b = graph.stage('b')!;
  const trigger = parsedForPhases('FROM x\nCOPY --from=a /x /y\n').definition.stages[0]!.instructions[0]!;
  const command = graph.command(b, trigger, true);
  assert.deepEqual([command.fromOnBuild, command.sources[0]?.labelName], [true, 'a']);
  assert.equal(b.deps.get(graph.stage('a')!), b.definition!.line);
  assert.ok(graph.needed().has(graph.stage('a')!));
});
