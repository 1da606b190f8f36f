/**
 * RUN --mount=type=secret: the secret reaches the RUN (as a file and as an environment variable)
 * while its bytes never touch a disk: not in the store (bundles, temporary files, cache records,
 * layers), /tmp, /dev/shm or /run, not even while the RUN runs or after gantry is killed in the middle
 * of it; and they never show in progress output or error messages.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { gantry, gantryBin, gantryOk, isRoot } from '../helpers/gantry.js';
import { assertCleanError, assertNothingLeft, build, busyboxRoot, execFileAsync, type TestRoot, writeTree } from './support.js';

/** Files holding any of `values`, searched everywhere a secret could have been written. */
async function filesHolding(values: string[], dirs: string[]): Promise<string[]> {
  const args = ['-rlF', '-D', 'skip', ...values.flatMap((value) => ['-e', value]), '--', ...dirs];
  // grep exits 1 when nothing matched, 2 when some file could not be read (sockets, vanished files): both are fine here.
  const result = await execFileAsync('grep', args, { maxBuffer: 16 << 20 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return result.stdout.split('\n').filter(Boolean);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The pids of a process's children. */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // The parent pid is the second field after the parenthesised command name.
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(name));
  }
  return children;
}

const commandOf = (pid: number) => readFile(`/proc/${pid}/cmdline`, 'utf8').then((text) => text.split('\0').filter(Boolean), () => undefined);

describe('RUN secrets', { skip: !isRoot && 'needs root (runc, overlay mounts, mount namespaces)' }, () => {
  let t: TestRoot;
  /** Fresh values each run, never written to a file by the test: found on disk, they can only come from gantry. */
  const fileSecret = `file-secret-${randomBytes(12).toString('hex')}`;
  const envSecret = `env-secret-${randomBytes(12).toString('hex')}`;
  const secretEnv = { GANTRY_TEST_FILE_SECRET: fileSecret, GANTRY_TEST_ENV_SECRET: envSecret };
  const secretArgs = ['--secret', 'id=tok,env=GANTRY_TEST_FILE_SECRET', '--secret', 'id=envtok,env=GANTRY_TEST_ENV_SECRET'];
  const everywhere = () => [t.root, '/tmp', '/dev/shm', '/run'];

  before(async () => {
    t = await busyboxRoot('e2e-secrets');
  });
  after(() => t?.cleanup());

  it('reach the RUN as a file and a variable, beside mounts made before them, and are hidden from the output', async () => {
    const context = await writeTree(join(t.work, 'use'), {
      Dockerfile: [
        'FROM busybox:latest AS data',
        'RUN mkdir /data && echo from-the-stage > /data/file',
        'FROM busybox:latest',
        'RUN --mount=type=bind,from=data,source=/data,target=/mnt/data --mount=type=secret,id=tok --mount=type=secret,id=tok,target=/opt/tok,uid=1000,mode=0440 --mount=type=secret,id=envtok,env=TOKEN \\',
        '    cat /mnt/data/file > /stage && sha256sum /run/secrets/tok | cut -d" " -f1 > /file-hash && printf %s "$TOKEN" | sha256sum | cut -d" " -f1 > /env-hash \\',
        '    && stat -c "%u %a" /opt/tok > /opt-tok && cat /run/secrets/tok && echo && echo "token: $TOKEN"',
        '',
      ].join('\n'),
    });
    const result = await build(t.root, context, ['-t', 'secrets:1', '-o', `type=local,dest=${join(t.work, 'use-out')}`, ...secretArgs], secretEnv);
    const out = (name: string) => readFile(join(t.work, 'use-out', name), 'utf8');
    assert.equal(await out('stage'), 'from-the-stage\n', 'a bind mount made before the private namespace is there');
    assert.equal((await out('file-hash')).trim(), sha256(fileSecret));
    assert.equal((await out('env-hash')).trim(), sha256(envSecret));
    assert.equal(await out('opt-tok'), '1000 440\n');
    assert.match(result.stderr, /^#\d+ [\d.]+ \*\*\*\*$/m, 'the secret file printed by the RUN');
    assert.match(result.stderr, /^#\d+ [\d.]+ token: \*\*\*\*$/m);
    assert.doesNotMatch(result.stderr, new RegExp(`${fileSecret}|${envSecret}`));
    assert.deepEqual(await filesHolding([fileSecret, envSecret], [t.root]), [], 'nothing in the store: layers, cache records, bundles, temporary files');
    await assertNothingLeft(t.root);
  });

  it("are hidden from a failed RUN's error message", async () => {
    const context = await writeTree(join(t.work, 'fails'), {
      Dockerfile: 'FROM busybox:latest\nRUN --mount=type=secret,id=envtok,env=TOKEN echo "the token is $TOKEN" && exit 3\n',
    });
    const result = await gantry(t.root, ['build', '--progress', 'plain', ...secretArgs, context], { env: secretEnv });
    assert.notEqual(result.code, 0);
    assertCleanError(result.stderr);
    assert.match(result.stderr, /^ {2}> the token is \*\*\*\*$/m, result.stderr);
    assert.doesNotMatch(result.stderr, new RegExp(envSecret));
  });

  it('never touch a disk, during the RUN or after gantry is killed in its middle; the helpers exit with gantry', async () => {
    const context = await writeTree(join(t.work, 'killed'), {
      Dockerfile: 'FROM busybox:latest\nRUN --mount=type=secret,id=tok --mount=type=secret,id=envtok,env=TOKEN echo started && sleep 60\n',
    });
    const child = spawn(process.execPath, [gantryBin, '--root', t.root, 'build', '--progress', 'plain', '--no-cache', ...secretArgs, context], {
      env: { ...process.env, ...secretEnv },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/^#\d+ [\d.]+ started$/m.test(stderr)) resolve();
      });
      child.once('exit', () => reject(new Error(`the build ended before its RUN started:\n${stderr}`)));
    });
    try {
      assert.deepEqual(await filesHolding([fileSecret, envSecret], everywhere()), [], 'no file holds a secret while the RUN runs');
      assert.doesNotMatch(await readFile('/proc/self/mountinfo', 'utf8'), /gantry-bundle/, 'the in-memory bundle is mounted only in its private namespace');
      const helpers = await childrenOf(child.pid!);
      const commands = await Promise.all(helpers.map(commandOf));
      assert.ok(commands.some((argv) => argv?.[0]?.endsWith('slirp4netns')), `slirp4netns runs: ${JSON.stringify(commands)}`);
      assert.ok(commands.some((argv) => argv?.includes('run') && argv.includes('--bundle')), `the runtime runs: ${JSON.stringify(commands)}`);
      child.kill('SIGKILL');
      await exited;
      // The network holder and slirp4netns see their lifeline close and exit; the runtime and its container live on until prune.
      const runtimePid = helpers.find((_, i) => commands[i]?.includes('--bundle'));
      for (let tries = 0; ; tries++) {
        const alive = (await Promise.all(helpers.filter((pid) => pid !== runtimePid).map(async (pid) => ((await commandOf(pid))?.length ? pid : undefined)))).filter(Boolean);
        if (alive.length === 0) break;
        assert.ok(tries < 50, `helpers still running 5 s after gantry was killed: ${alive.join(' ')}`);
        await sleep(100);
      }
      assert.deepEqual(await filesHolding([fileSecret, envSecret], everywhere()), [], 'no file holds a secret after gantry was killed');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    await gantryOk(t.root, ['prune', '--keep-cache']);
    await assertNothingLeft(t.root);
    assert.deepEqual(await readdir(join(t.root, 'runtime-bundles')), []);
    assert.deepEqual(await filesHolding([fileSecret, envSecret], everywhere()), []);
  });
});
