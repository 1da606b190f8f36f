/**
 * Bad inputs: each build fails with a message that says what is wrong (never a stack trace or an
 * internal error) and leaves the store as it was: index.json and blobs unchanged, nothing mounted
 * under the store, no runc container, no writable snapshot or temporary files left.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isRoot } from '../helpers/gantry.js';
import { assertStoreIntact, busyboxRoot, failingBuild, storeState, tarOf, type TestRoot, writeTree } from './support.js';

describe('bad inputs', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;

  /** Runs a build that must fail, checks the store is untouched, and returns its stderr. */
  async function fails(context: string, args: string[] = []): Promise<string> {
    const before = await storeState(t.root);
    const result = await failingBuild(t.root, context, args);
    await assertStoreIntact(t.root, before);
    return result.stderr;
  }

  before(async () => {
    t = await busyboxRoot('e2e-errors');
  });
  after(() => t?.cleanup());

  it('a context directory that does not exist', async () => {
    const stderr = await fails(join(t.work, 'no-such-context'));
    assert.match(stderr, /build context .*no-such-context.* does not exist/);
  });

  it('a COPY source outside the context, by path or through a symlink', async () => {
    const secret = join(t.work, 'secret.txt');
    await writeFile(secret, 'host secret\n');
    const byPath = await writeTree(join(t.work, 'outside-path', 'ctx'), { Dockerfile: 'FROM busybox:latest\nCOPY ../secret.txt /leak\n' });
    assert.match(await fails(byPath), /"\.\.\/secret\.txt" not found in the build context/);
    const byLink = await writeTree(join(t.work, 'outside-link'), {
      'leak': { symlink: secret },
      'Dockerfile': 'FROM busybox:latest\nCOPY leak /leak\n',
    });
    assert.match(await fails(byLink), /"leak" not found in the build context/);
  });

  it('an unknown target stage, and a COPY --from naming neither a stage nor a local image', async () => {
    const context = await writeTree(join(t.work, 'unknown-stage'), { Dockerfile: 'FROM busybox:latest AS base\nFROM base AS app\nCOPY --from=bulid /x /x\n' });
    assert.match(await fails(context, ['--target', 'nosuch']), /target stage "nosuch" could not be found/);
    const stderr = await fails(context);
    assert.match(stderr, /bulid/);
    assert.match(stderr, /not in the local store/);
  });

  it('a base image that is not local, with no registry reachable', async () => {
    const context = await writeTree(join(t.work, 'not-local'), { Dockerfile: 'FROM registry.invalid/team/app:1.0\nRUN true\n' });
    const stderr = await fails(context);
    assert.match(stderr, /registry\.invalid\/team\/app:1\.0/);
    assert.match(stderr, /not in the local store/);
    assert.match(stderr, /registry\.invalid/);
  });

  it('an archive in ADD with entries that leave the destination', async () => {
    const context = await writeTree(join(t.work, 'evil-tar'), {
      'evil.tar': { content: await tarOf(0, [{ name: 'ok.txt', content: 'ok' }, { name: '../../escaped.txt', content: 'pwned' }]) },
      'Dockerfile': 'FROM busybox:latest\nADD evil.tar /unpacked/\n',
    });
    const stderr = await fails(context);
    assert.match(stderr, /\.\.\/\.\.\/escaped\.txt/);
    assert.match(stderr, /escapes/);
  });

  it('a RUN that exits 1: the step, the exit code and the last output lines', async () => {
    const context = await writeTree(join(t.work, 'run-fails'), {
      Dockerfile: 'FROM busybox:latest\nRUN for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do echo "line $i"; done; echo "to stderr" >&2; exit 1\n',
    });
    const stderr = await fails(context);
    assert.match(stderr, /\[2\/2\] RUN for i in/);
    assert.match(stderr, /exit code: 1/);
    assert.match(stderr, /line 25/);
    assert.match(stderr, /to stderr/);
    assert.match(stderr, /Dockerfile:2/);
  });

  it('an OCI runtime that is not installed', async () => {
    const context = await writeTree(join(t.work, 'runtime'), { Dockerfile: 'FROM busybox:latest\nRUN true\n' });
    const stderr = await fails(context, ['--runtime', '/nonexistent/crun']);
    assert.match(stderr, /OCI runtime "\/nonexistent\/crun" not found/);
  });

  it('an ADD URL whose path is not valid percent-encoding', async () => {
    for (const path of ['%zz', 'a%ff%fe', 'a%00b']) {
      const context = await writeTree(join(t.work, `bad-url-${path}`), { Dockerfile: `FROM busybox:latest\nADD http://127.0.0.1:9/${path} /x\n` });
      assert.match(await fails(context), /is not a valid URL: .*malformed percent-encoding/);
    }
  });

  it('a feature gantry does not run yet fails naming it', async () => {
    const context = await writeTree(join(t.work, 'git'), { Dockerfile: 'FROM busybox:latest\nADD https://github.com/moby/buildkit.git#v0.12.0 /src\n' });
    const stderr = await fails(context);
    assert.match(stderr, /ADD of a git repository .* is not supported/);
  });
});
