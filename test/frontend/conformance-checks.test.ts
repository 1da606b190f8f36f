/**
 * BuildKit's build-check cases (dockerfile_check_test.go). Each case runs twice, as in BuildKit:
 * (a) a build (planBuild, which reports only the stages the default target needs) must produce
 * `warnings`, and (b) the lint request (checkDockerfile, every stage) must produce `checkWarnings`.
 *
 * Deliberate differences, checked here in their gantry form:
 * - Errors carry their line as a location instead of BuildKit's "dockerfile parse error on line N:"
 *   prefix, and a "did you mean X?" suggestion as the hint instead of a " (did you mean X?)" suffix.
 * - With `error=true` the findings are reported at level "error" (BuildKit reports level 1 and fails).
 * - The CopyIgnoredFile builds fail in BuildKit because the context lacks the ignored file; the plan
 *   is fine, so planBuild succeeds here and the engine fails when it copies.
 * - The two testBaseImagePlatformMismatch cases need a registry and are `unresolved` in the table;
 *   InvalidBaseImagePlatform is covered in checks.test.ts with a resolver returning a foreign platform.
 * - Windows variants are not run: gantry builds Linux images.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConformance } from '../helpers/conformance.js';
import { checkDockerfile, DockerfileError, planBuild, type CheckWarning } from '../../src/frontend/index.js';
import type { GantryError } from '../../src/util/errors.js';
import { amd64, fakeResolver, planOptions } from './fixtures.js';

interface ExpectedWarning {
  RuleName: string;
  Description: string;
  Detail: string;
  Line?: number;
  Level?: number;
  URL: string;
}

interface CheckCase {
  id: string;
  dockerfile: string | { unresolved: true };
  dockerignore: string | null;
  buildArgs: Record<string, string>;
  warnings: ExpectedWarning[];
  checkWarnings: ExpectedWarning[];
  buildErr: string | null;
  streamBuildErrRegexp: string | null;
  expectBuildFailure: boolean;
  expectCheckError: boolean;
  errorKind: string | null;
  unresolved?: boolean;
}

const table = loadConformance<{ cases: CheckCase[] }>('build-checks.json');

const UNRESOLVED_REASON = 'needs a registry holding an image built for a foreign platform (see checks.test.ts for InvalidBaseImagePlatform)';

test('build-checks table has 89 cases', () => {
  assert.equal(table.cases.length, 89);
});

for (const c of table.cases) {
  test(`build check ${c.id}`, { skip: c.unresolved ? UNRESOLVED_REASON : false }, async () => {
    const dockerfile = c.dockerfile as string;
    const options = planOptions({
      buildArgs: c.buildArgs,
      targetPlatform: amd64,
      resolveImage: fakeResolver({
        alpine: { config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] } },
        busybox: { config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] } },
      }),
      isIgnored: c.dockerignore === null ? undefined : copyIgnoredFileMatcher(c.dockerignore),
    });
    const errorLevel = c.errorKind === 'lint-violation (check error=true)' ? 'error' : 'warning';

    // (a) the build
    let buildWarnings: CheckWarning[];
    let buildError: GantryError | undefined;
    try {
      buildWarnings = (await planBuild(dockerfile, options)).warnings;
    } catch (err) {
      assert.ok(err instanceof DockerfileError, `unexpected error: ${String(err)}`);
      buildWarnings = err.warnings;
      buildError = err;
    }
    assert.deepEqual(
      sortWarnings(buildWarnings).map((w) => [w.rule, w.location?.line, w.detail, w.description, w.url, w.level]),
      sortExpected(c.warnings).map((w) => [w.RuleName, w.Line, w.Detail, w.Description, w.URL, errorLevel]),
    );
    if (c.buildErr !== null) {
      assert.ok(buildError, `expected the build to fail with: ${c.buildErr}`);
      assert.equal(asBuildKitMessage(buildError, c.buildErr), c.buildErr);
    } else {
      // streamBuildErrRegexp cases fail later, in the engine (see above).
      assert.equal(buildError, undefined, buildError?.message);
    }

    // (b) the lint request
    const check = await checkDockerfile(dockerfile, options);
    assert.deepEqual(
      sortWarnings(check.warnings).map((w) => [w.rule, w.detail, w.description, w.url]),
      sortExpected(c.checkWarnings).map((w) => [w.RuleName, w.Detail, w.Description, w.URL]),
    );
    if (c.expectCheckError) {
      assert.equal(check.failed, true);
      assert.ok(check.error);
      assert.equal(asBuildKitMessage(check.error, c.buildErr!), c.buildErr);
    } else {
      assert.equal(check.error, undefined, check.error?.message);
      assert.equal(check.failed, false);
    }
  });
}

/** BuildKit's text for a gantry error: the line prefix and suggestion it puts in the message. */
function asBuildKitMessage(err: GantryError, expected: string): string {
  let message = err.message;
  if (err.hint?.startsWith('did you mean ')) message += ` (${err.hint})`;
  const prefix = /^dockerfile parse error on line (\d+): /.exec(expected);
  if (prefix) message = `dockerfile parse error on line ${err.location?.line}: ${message}`;
  return message;
}

function sortWarnings(warnings: CheckWarning[]): CheckWarning[] {
  return [...warnings].sort((a, b) => (a.location?.line ?? 0) - (b.location?.line ?? 0) || compare(a.detail, b.detail));
}

function sortExpected(warnings: ExpectedWarning[]): ExpectedWarning[] {
  return [...warnings].sort((a, b) => (a.Line ?? 0) - (b.Line ?? 0) || compare(a.Detail, b.Detail));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Stands in for the context module's .dockerignore matcher, answering as BuildKit's CopyIgnoredFile
 * check asks: nothing is reported when the file has `!` exceptions, and the context root only when a
 * pattern excludes everything.
 */
function copyIgnoredFileMatcher(dockerignore: string): (path: string) => boolean {
  const patterns = dockerignore.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  if (patterns.some((pattern) => pattern.startsWith('!'))) return () => false;
  const regexes = patterns.map((pattern) => new RegExp(`^${pattern.split('**').map(globSegment).join('.*')}$`));
  return (path) => {
    if (path === '.') return patterns.some((pattern) => ['*', '**', '**/*'].includes(pattern));
    const parts = path.split('/');
    return parts.some((_, i) => regexes.some((regex) => regex.test(parts.slice(0, i + 1).join('/'))));
  };
}

function globSegment(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
}
