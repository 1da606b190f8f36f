import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CopyStep } from '../../src/frontend/index.js';
import type { ExecContext } from '../../src/solver/exec-context.js';
import { planRemoteSources } from '../../src/solver/ops/remote-sources.js';
import { GantryError } from '../../src/util/errors.js';

const step: CopyStep = {
  kind: 'copy',
  instruction: 'ADD',
  label: 'ADD',
  source: { file: 'Dockerfile', startLine: 3, endLine: 3, original: 'ADD --keep-git-dir https://github.com/o/r.git#v1:docs /src' },
  config: {},
  from: { kind: 'context' },
  sources: [],
  inlineSources: [],
  dest: '/src',
  link: false,
  parents: false,
  exclude: [],
  workdir: '/',
  user: '',
};

// Nothing is downloaded in these cases, so the context is never read.
const ctx = {} as ExecContext;

test('a Git source is refused by kind, naming the feature, the repository and --keep-git-dir, at the ADD line', async () => {
  await assert.rejects(
    planRemoteSources(step, [{ kind: 'git', url: 'https://github.com/o/r.git', ref: 'v1', subdir: 'docs', keepGitDir: true }], ctx),
    (err: unknown) =>
      err instanceof GantryError &&
      err.message === 'ADD of a git repository (https://github.com/o/r.git#v1:docs, keeping its .git directory) is not supported by gantry yet' &&
      err.location?.line === 3 &&
      /clone the repository in a RUN step/.test(err.hint ?? ''),
  );
  await assert.rejects(planRemoteSources(step, [{ kind: 'git', url: 'ssh://host/repo' }], ctx), /^GantryError: ADD of a git repository \(ssh:\/\/host\/repo\) is not supported/);
});

test('an http source whose path Go cannot decode is refused before any download', async () => {
  await assert.rejects(planRemoteSources(step, [{ kind: 'http', url: 'http://127.0.0.1:9/%zz' }], ctx), /is not a valid URL/);
});
