import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { requireSlirp4netns } from '../../src/exec/network.js';
import { isGantryError } from '../../src/util/errors.js';
import { isRoot } from '../helpers/gantry.js';

const run = promisify(execFile);

test('without slirp4netns the default network is refused, naming the package and the other networks', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'gantry-path-'));
  const path = process.env.PATH;
  process.env.PATH = empty;
  try {
    await assert.rejects(requireSlirp4netns(), (err: unknown) => {
      assert.ok(isGantryError(err));
      assert.match(err.message, /slirp4netns is not installed/);
      assert.match(err.hint ?? '', /install the slirp4netns package.*--network none.*--network host/);
      return true;
    });
  } finally {
    process.env.PATH = path;
    await rm(empty, { recursive: true, force: true });
  }
});

const pidAlive = (pid: number) => readlink(`/proc/${pid}/exe`).then(() => true, () => false);

test('the sandbox network: its own namespace with loopback and tap0, whose helpers exit when their owner is killed', { skip: !isRoot && 'needs root (network namespaces)' }, async () => {
  // An owner process that starts the network, reports the helpers, and waits to be killed.
  const script = `
    import { SandboxNetwork } from ${JSON.stringify(join(process.cwd(), 'dist/src/exec/network.js'))};
    const network = await SandboxNetwork.start();
    console.log(JSON.stringify({ path: network.attachment.path, nameservers: network.attachment.nameservers }));
    setInterval(() => undefined, 1000);
  `;
  const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    owner.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()));
    owner.once('exit', (code) => reject(new Error(`the owner exited (${code})`)));
  });
  const exited = new Promise<void>((resolve) => owner.once('exit', () => resolve()));
  try {
    const { path, nameservers } = JSON.parse(line) as { path: string; nameservers: string[] };
    assert.deepEqual(nameservers, ['10.0.2.3']);
    assert.notEqual(await readlink(path), await readlink('/proc/self/ns/net'), 'a namespace of its own');
    const devices = (await run('nsenter', [`--net=${path}`, 'cat', '/proc/net/dev'])).stdout;
    assert.deepEqual(devices.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean).sort(), ['lo', 'tap0']);
    const holder = Number(/^\/proc\/(\d+)\//.exec(path)?.[1]);
    const slirp = Number((await run('pgrep', ['-P', String(owner.pid), 'slirp4netns'])).stdout.trim());
    assert.ok(holder > 0 && slirp > 0);
    owner.kill('SIGKILL');
    await exited;
    for (let tries = 0; (await pidAlive(holder)) || (await pidAlive(slirp)); tries++) {
      assert.ok(tries < 50, 'the holder and slirp4netns outlived their owner by 5 s');
      await sleep(100);
    }
  } finally {
    owner.kill('SIGKILL');
    await exited;
  }
});
