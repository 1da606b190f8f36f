/**
 * The frontend through the command line: `build --check`, the AST dump, and Dockerfile mistakes
 * reported as file:line:column with the line, a caret and a hint — exit status 1, no stack trace.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gantry, tempDir } from '../helpers/gantry.js';

let root: { path: string; cleanup(): Promise<void> };
let context: { path: string; cleanup(): Promise<void> };

before(async () => {
  root = await tempDir('check-root');
  context = await tempDir('check-context');
});

after(async () => {
  await root.cleanup();
  await context.cleanup();
});

async function withDockerfile(name: string, text: string): Promise<string> {
  const path = join(context.path, name);
  await writeFile(path, text);
  return path;
}

test('build --check lists BuildKit rule findings with their lines and succeeds on warnings', async () => {
  const file = await withDockerfile('Dockerfile.warn', 'FROM busybox as Build\nMAINTAINER me\nCMD echo hi\n');
  const result = await gantry(root.path, ['build', '--check', '-f', file, context.path]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /WARNING: FromAsCasing - .*:1: 'as' and 'FROM' keywords' casing do not match/);
  assert.match(result.stdout, /WARNING: StageNameCasing - .*:1: Stage name 'Build' should be lowercase/);
  assert.match(result.stdout, /WARNING: MaintainerDeprecated - .*:2:/);
  assert.match(result.stdout, /WARNING: JSONArgsRecommended - .*:3:/);
  assert.match(result.stdout, /https:\/\/docs\.docker\.com\/go\/dockerfile\/rule\/json-args-recommended\//);
  assert.match(result.stdout, /Check complete, 4 warnings found\./);
  // busybox is not in this empty store and no registry is reachable: said, and the other checks still ran.
  assert.match(result.stdout, /NOTE: base image \S*busybox\S*: .*checks that read its config were skipped/);
});

test('build --check exits non-zero when check=error=true makes a finding an error', async () => {
  const file = await withDockerfile('Dockerfile.error', '# check=error=true\nFROM busybox\nCMD echo hi\n');
  const result = await gantry(root.path, ['build', '--check', '-f', file, context.path]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /ERROR: JSONArgsRecommended/);
});

test('build --check honours check=skip and passes a clean Dockerfile', async () => {
  const file = await withDockerfile('Dockerfile.skip', '# check=skip=JSONArgsRecommended\nFROM busybox\nCMD echo hi\n');
  const result = await gantry(root.path, ['build', '--check', '-f', file, context.path]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /Check complete, no warnings found\./);
});

test('an unknown instruction is reported at file:line:column with the line, a caret and a suggestion', async () => {
  const file = await withDockerfile('Dockerfile.typo', 'FROM busybox\nCOPPY . /app\n');
  const result = await gantry(root.path, ['build', '-f', file, context.path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Dockerfile\.typo:2:1: unknown instruction: COPPY/);
  assert.match(result.stderr, /  2 \| COPPY \. \/app\n {4}\| \^+/);
  assert.match(result.stderr, /hint: did you mean COPY\?/);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
});

test('an unknown target stage lists the stages', async () => {
  const file = await withDockerfile('Dockerfile.stages', 'FROM busybox AS build\nFROM busybox AS final\n');
  const result = await gantry(root.path, ['build', '--target', 'biuld', '-f', file, context.path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /biuld/);
  assert.match(result.stderr, /build, final/);
});

test('an ARG without a value used in FROM says so', async () => {
  const file = await withDockerfile('Dockerfile.arg', 'ARG V\nFROM busybox:$V\n');
  const result = await gantry(root.path, ['build', '-f', file, context.path]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Dockerfile\.arg:2:/);
  assert.match(result.stderr, /ARG V has no value and no global default/);
});

test('debug dockerfile-ast prints BuildKit\'s dump', async () => {
  const file = await withDockerfile('Dockerfile.ast', 'FROM busybox AS base\nRUN ["echo", "hi"]\nENV A=1 B="two words"\n');
  const result = await gantry(root.path, ['debug', 'dockerfile-ast', '-f', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, '(from "busybox" "AS" "base")\n(run "echo" "hi")\n(env "A" "1" "=" "B" "\\"two words\\"" "=")\n');
});
