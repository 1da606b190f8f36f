import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BaseImages } from '../../src/frontend/base-images.js';
import { BuildArgs } from '../../src/frontend/build-args.js';
import { OnBuildTriggers } from '../../src/frontend/onbuild.js';
import { StageGraph } from '../../src/frontend/stage-graph.js';
import { GantryError } from '../../src/util/errors.js';
import { amd64, fakeResolver, parsedForPhases, type FakeImage } from './fixtures.js';

async function triggersOf(text: string, images: Record<string, FakeImage> = {}) {
  const parsed = parsedForPhases(text);
  const args = BuildArgs.create(parsed.definition, { values: {}, targetPlatform: amd64, buildPlatform: amd64, targetStage: '' }, parsed.lexer, parsed.source, parsed.lint);
  const graph = new StageGraph(parsed.definition, { args, lexer: parsed.lexer, source: parsed.source, lint: parsed.lint, buildPlatform: amd64 });
  const bases = new BaseImages(graph, fakeResolver(images), amd64, parsed.source, parsed.lint);
  await bases.resolve(graph.nodes);
  return { graph, bases, triggers: new OnBuildTriggers(graph, bases, parsed.source) };
}

const commandsOf = (node: { commands: Array<{ instruction: { original: string }; fromOnBuild: boolean }> }) =>
  node.commands.map((command) => `${command.fromOnBuild ? 'trigger ' : ''}${command.instruction.original}`);

test('an image\'s ONBUILD triggers run first, at the FROM line, once; the stage does not keep them', async () => {
  const { graph, bases, triggers } = await triggersOf('FROM app\nRUN own\n', { app: { config: { OnBuild: ['RUN first', 'ENV A=1'] } } });
  const node = graph.nodes[0]!;
  assert.equal(triggers.add(graph.nodes), false);
  assert.deepEqual(commandsOf(node), ['trigger RUN first', 'trigger ENV A=1', 'RUN own']);
  assert.equal(node.commandTotal, 4);
  assert.equal(node.commands[0]!.instruction.line, 1);
  assert.equal(bases.get(node)!.config.OnBuild, undefined);
  triggers.add(graph.nodes);
  assert.equal(node.commands.length, 3);
});

test('a base stage\'s ONBUILD instructions run in the stages built on it; a trigger reading a stage grows the graph', async () => {
  const { graph, triggers } = await triggersOf('FROM alpine AS tools\nFROM scratch AS base\nONBUILD COPY --from=tools /t /t\nFROM base AS app\n');
  const app = graph.stage('app')!;
  assert.deepEqual([...graph.needed()].map((node) => node.labelName), ['app', 'base']);
  assert.equal(triggers.add([app]), true);
  assert.deepEqual(commandsOf(app), ['trigger COPY --from=tools /t /t']);
  assert.ok(graph.needed().has(graph.stage('tools')!));
  assert.equal(triggers.add([app]), false);
});

test('a trigger that is not one instruction fails at the FROM line of the stage it runs in', async () => {
  const { graph, triggers } = await triggersOf('FROM alpine\nFROM app\n', { app: { config: { OnBuild: ['FROM busybox'] } } });
  assert.throws(
    () => triggers.add(graph.nodes),
    (err: unknown) => err instanceof GantryError && /ONBUILD trigger "FROM busybox": FROM isn't allowed/.test(err.message) && err.location?.line === 2,
  );
});
