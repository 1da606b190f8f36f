import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuildArgs } from '../../src/frontend/build-args.js';
import { dispatchCommand, type DispatchOptions, type StageInputs } from '../../src/frontend/dispatch.js';
import { StageLabels } from '../../src/frontend/labels.js';
import { PlanSize } from '../../src/frontend/plan-size.js';
import { StageGraph } from '../../src/frontend/stage-graph.js';
import { StageState } from '../../src/frontend/stage-state.js';
import { GantryError } from '../../src/util/errors.js';
import { amd64, parsedForPhases } from './fixtures.js';

/** The first stage of `text`, dispatched instruction by instruction with `inputs`. */
function dispatchFirstStage(text: string, inputs: StageInputs = { ready: () => true, input: (node) => ({ kind: 'stage', stage: node.definition!.index }) }) {
  const parsed = parsedForPhases(text);
  const args = BuildArgs.create(parsed.definition, { values: { FROM_CLI: 'cli' }, targetPlatform: amd64, buildPlatform: amd64, targetStage: '' }, parsed.lexer, parsed.source, parsed.lint);
  const graph = new StageGraph(parsed.definition, { args, lexer: parsed.lexer, source: parsed.source, lint: parsed.lint, buildPlatform: amd64 });
  const node = graph.nodes[0]!;
  const stage = StageState.fromImage(node.definition!, new StageLabels(node.labelName, node.commandTotal, 1), { platform: amd64, os: 'linux', config: { Env: ['PATH=/bin'] } });
  const options: DispatchOptions = { source: parsed.source, lexer: parsed.lexer, args, lint: parsed.lint, inputs, planSize: new PlanSize() };
  return { stage, node, options, warnings: parsed.lint.warnings, run: () => node.commands.forEach((command) => dispatchCommand(stage, command, options)) };
}

test('each instruction kind has its handler: config, run, copy and workdir steps in order', () => {
  const { stage, run } = dispatchFirstStage(
    'FROM alpine AS a\nARG FROM_CLI\nENV A=1\nLABEL l=$A\nWORKDIR /w\nRUN echo $A\nCOPY x y\nADD https://example.com/f /f\nUSER 1000\nEXPOSE 80\nVOLUME /v\n' +
      'STOPSIGNAL SIGTERM\nSHELL ["/bin/bash", "-c"]\nHEALTHCHECK NONE\nCMD run\nENTRYPOINT ["e"]\nONBUILD RUN x\nMAINTAINER me\n',
  );
  run();
  assert.deepEqual(
    stage.steps.map((step) => (step.kind === 'config' ? step.instruction : step.kind)),
    ['ARG', 'ENV', 'LABEL', 'workdir', 'run', 'copy', 'copy', 'USER', 'EXPOSE', 'VOLUME', 'STOPSIGNAL', 'SHELL', 'HEALTHCHECK', 'CMD', 'ENTRYPOINT', 'ONBUILD', 'MAINTAINER'],
  );
  assert.deepEqual(stage.steps.map((step) => step.label).slice(3, 7), ['[2/5] WORKDIR /w', '[3/5] RUN echo 1', '[4/5] COPY x y', '[5/5] ADD https://example.com/f /f']);
  const [copy, add] = stage.steps.filter((step) => step.kind === 'copy');
  assert.deepEqual([copy!.kind === 'copy' && copy.sources, add!.kind === 'copy' && add.sources], [[{ kind: 'context', path: 'x' }], [{ kind: 'http', url: 'https://example.com/f' }]]);
  assert.equal(stage.env.get('FROM_CLI'), 'cli');
  assert.equal(stage.config.Labels?.['l'], '1');
  assert.equal(stage.author, 'me');
});

test('an error raised without a location gets the instruction\'s; an ONBUILD trigger\'s points at the FROM line', () => {
  const { run } = dispatchFirstStage('FROM alpine\nENV A=1\nSTOPSIGNAL SIGNOPE\n');
  assert.throws(run, (err: unknown) => err instanceof GantryError && err.message === 'invalid signal: SIGNOPE' && err.location?.line === 3 && err.location.column === 1);
  const located = dispatchFirstStage('FROM alpine\n  RUN --mount=type=bind,target=/ true\n');
  assert.throws(located.run, (err: unknown) => err instanceof GantryError && /invalid mount target/.test(err.message) && err.location?.line === 2 && err.location.column === 3);
  const trigger = dispatchFirstStage('FROM alpine\nRUN ok\n');
  const volume = parsedForPhases('FROM x\nVOLUME $EMPTY\n').definition.stages[0]!.instructions[0]!;
  trigger.node.commands.unshift({ instruction: volume, sources: [], fromOnBuild: true });
  assert.throws(trigger.run, (err: unknown) => err instanceof GantryError && /VOLUME specified can not be an empty string/.test(err.message) && err.location?.line === 1);
});

test('COPY --from and RUN --mount from= read other nodes only once they are ready', () => {
  const notReady: StageInputs = { ready: () => false, input: () => assert.fail('not ready') };
  const copy = dispatchFirstStage('FROM alpine AS a\nCOPY --from=later / /\nFROM alpine AS later\n', notReady);
  assert.throws(copy.run, /cannot copy from stage "later", it needs to be defined before current stage "a"/);
  const mount = dispatchFirstStage('FROM alpine AS a\nRUN --mount=from=later,target=/l true\nFROM alpine AS later\n', notReady);
  assert.throws(mount.run, /cannot mount from stage "later" to "\/l", stage needs to be defined before current command/);
});
