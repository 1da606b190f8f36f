/**
 * The RUN sandbox: the default network (a namespace of its own with outbound access through
 * slirp4netns, the host's loopback out of reach), --network none, the entitlements that RUN
 * --network=host and --security=insecure need (refused before any step runs, granted by --allow, the
 * config file or --network host), the seccomp filter, and what an insecure RUN really gets.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gantry, isRoot } from '../helpers/gantry.js';
import { assertCleanError, build, busyboxRoot, storeState, type TestRoot, writeTree } from './support.js';

/** A TCP service that greets and counts its connections. */
interface Service {
  address: string;
  port: number;
  connections: number;
  server: Server;
}

async function listen(address: string, greeting: string): Promise<Service> {
  const service = { address, port: 0, connections: 0 } as Service;
  service.server = createServer((socket) => {
    service.connections++;
    socket.end(`${greeting}\n`);
  });
  await new Promise<void>((resolve, reject) => service.server.once('error', reject).listen(0, address, resolve));
  service.port = (service.server.address() as { port: number }).port;
  return service;
}

/** An IPv4 address of this machine that is not loopback (eth0's). */
function hostAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((info) => info && info.family === 'IPv4' && !info.internal)?.address;
}

const externalAddress = hostAddress();

describe('RUN sandbox', { skip: (!isRoot && 'needs root (runc, overlay mounts)') || (!externalAddress && 'needs a non-loopback IPv4 address') }, () => {
  let t: TestRoot;
  let loopback: Service;
  let external: Service;
  let configDir: string;
  /** No config file: a developer's own grants must not make a refusal pass. */
  const noConfig = () => ({ GANTRY_CONFIG: join(configDir, 'absent.json') });

  before(async () => {
    t = await busyboxRoot('e2e-sandbox');
    configDir = await mkdtemp(join(tmpdir(), 'gantry-sandbox-config-'));
    loopback = await listen('127.0.0.1', 'hello from loopback');
    external = await listen(externalAddress!, 'hello from the host');
  });
  after(async () => {
    loopback?.server.close();
    external?.server.close();
    await rm(configDir, { recursive: true, force: true });
    await t?.cleanup();
  });

  /** Builds `dockerfile` with a local output and returns a reader of its files. */
  async function buildOut(name: string, dockerfile: string, args: string[] = [], env: NodeJS.ProcessEnv = noConfig()) {
    const context = await writeTree(join(t.work, name), { Dockerfile: dockerfile });
    const dest = join(t.work, `${name}-out`);
    const result = await build(t.root, context, ['--no-cache', '-o', `type=local,dest=${dest}`, ...args], env);
    return { read: (path: string) => readFile(join(dest, path), 'utf8'), stderr: result.stderr };
  }

  /** A build that must be refused before any step runs, leaving the store as it was. */
  async function refused(name: string, dockerfile: string, args: string[] = []) {
    const context = await writeTree(join(t.work, name), { Dockerfile: dockerfile });
    const before = await storeState(t.root);
    const result = await gantry(t.root, ['build', '--progress', 'plain', ...args, context], { env: noConfig() });
    assert.notEqual(result.code, 0, result.stderr);
    assertCleanError(result.stderr);
    assert.doesNotMatch(result.stderr, /^#\d+ /m, `a step started:\n${result.stderr}`);
    assert.deepEqual(await storeState(t.root), before);
    return result.stderr;
  }

  const probe = (service: Service, file: string) => `nc -w 3 ${service.address} ${service.port} </dev/null > /out/${file} 2>&1; echo "exit $?" >> /out/${file}`;

  it("the default network reaches the host's addresses but not its loopback, and resolves through slirp4netns", async () => {
    const before = { loopback: loopback.connections, external: external.connections };
    const out = await buildOut(
      'default-net',
      ['FROM busybox:latest', `RUN mkdir /out && ${probe(external, 'external')} && ${probe(loopback, 'loopback')} && cp /etc/resolv.conf /out/resolv.conf`, ''].join('\n'),
    );
    assert.equal(await out.read('out/external'), 'hello from the host\nexit 0\n');
    assert.match(await out.read('out/loopback'), /refused[\s\S]*exit 1/);
    assert.deepEqual({ loopback: loopback.connections, external: external.connections }, { loopback: before.loopback, external: before.external + 1 });
    const host = await readFile('/etc/resolv.conf', 'utf8');
    const kept = host.split('\n').filter((line) => line.trim() !== '' && !/^\s*nameserver\s/.test(line));
    assert.equal(await out.read('out/resolv.conf'), [...kept, 'nameserver 10.0.2.3'].join('\n') + '\n');
  });

  it('--network none reaches nothing', async () => {
    const before = { loopback: loopback.connections, external: external.connections };
    const out = await buildOut('none-net', ['FROM busybox:latest', `RUN mkdir /out && ${probe(external, 'external')} ; ${probe(loopback, 'loopback')}`, ''].join('\n'), ['--network', 'none']);
    assert.match(await out.read('out/external'), /exit 1/);
    assert.match(await out.read('out/loopback'), /exit 1/);
    assert.deepEqual({ loopback: loopback.connections, external: external.connections }, before);
  });

  it('RUN --network=host needs network.host: refused before any step runs, granted by --allow, the config file or --network host', async () => {
    const dockerfile = ['FROM busybox:latest', 'RUN echo first', `RUN --network=host mkdir /out && ${probe(loopback, 'loopback')}`, ''].join('\n');
    const stderr = await refused('host-refused', dockerfile);
    assert.match(stderr, /^error: \S*\/Dockerfile:3:1: \[3\/3\] RUN --network=host mkdir \/out .* needs the network\.host entitlement/m);
    assert.match(stderr, /^hint: .*--allow network\.host.*"entitlements": \["network\.host"\]/m);
    assert.match(await (await buildOut('host-allow', dockerfile, ['--allow', 'network.host'])).read('out/loopback'), /hello from loopback\nexit 0/);
    const config = join(configDir, 'network.json');
    await writeFile(config, JSON.stringify({ entitlements: ['network.host'] }));
    assert.match(await (await buildOut('host-config', dockerfile, [], { GANTRY_CONFIG: config })).read('out/loopback'), /hello from loopback\nexit 0/);
    assert.match(await (await buildOut('host-flag', dockerfile, ['--network', 'host'])).read('out/loopback'), /hello from loopback\nexit 0/);
  });

  it('without slirp4netns the default network fails before any step runs, naming the package and the alternatives', async () => {
    // A PATH with every system tool but slirp4netns.
    const bin = join(configDir, 'bin');
    await mkdir(bin, { recursive: true });
    for (const dir of ['/usr/sbin', '/usr/bin']) {
      for (const name of await readdir(dir)) if (name !== 'slirp4netns') await symlink(join(dir, name), join(bin, name)).catch(() => undefined);
    }
    const dockerfile = 'FROM busybox:latest\nRUN echo ran > /ran\n';
    const context = await writeTree(join(t.work, 'no-slirp'), { Dockerfile: dockerfile });
    const before = await storeState(t.root);
    const result = await gantry(t.root, ['build', '--progress', 'plain', '--no-cache', context], { env: { ...noConfig(), PATH: bin } });
    assert.notEqual(result.code, 0, result.stderr);
    assertCleanError(result.stderr);
    assert.doesNotMatch(result.stderr, /^#\d+ /m, `a step started:\n${result.stderr}`);
    assert.match(result.stderr, /slirp4netns is not installed/);
    assert.match(result.stderr, /^hint: install the slirp4netns package.*--network none.*--network host/m);
    assert.deepEqual(await storeState(t.root), before);
    await build(t.root, context, ['--no-cache', '--network', 'none'], { ...noConfig(), PATH: bin });
  });

  it('--allow rejects an unknown entitlement', async () => {
    const stderr = await refused('allow-unknown', 'FROM busybox:latest\nRUN true\n', ['--allow', 'network.host,device']);
    assert.match(stderr, /--allow device: unknown entitlement/);
  });

  const capabilityReport = 'RUN mkdir /out /mnt && grep -E "^(CapEff|Seccomp):" /proc/self/status > /out/status && (unshare -U -r true && echo unshare-ok || echo unshare-failed) > /out/unshare 2>&1 && (mount -t tmpfs t /mnt && echo mount-ok || echo mount-failed) > /out/mount 2>&1 && (chroot / true && echo chroot-ok || echo chroot-failed) > /out/chroot 2>&1';

  it('every other RUN runs under the seccomp filter with the default capabilities', async () => {
    const out = await buildOut('seccomp', `FROM busybox:latest\n${capabilityReport}\n`);
    const status = await out.read('out/status');
    assert.match(status, /^Seccomp:\t2$/m);
    assert.match(status, /^CapEff:\t00000000a80425fb$/m);
    assert.match(await out.read('out/unshare'), /unshare-failed/);
    assert.match(await out.read('out/mount'), /mount-failed/);
    assert.match(await out.read('out/chroot'), /chroot-ok/);
  });

  it('RUN --security=insecure needs security.insecure; granted, it has every capability and no seccomp filter', async () => {
    const dockerfile = `FROM busybox:latest\n${capabilityReport.replace('RUN ', 'RUN --security=insecure ')}\n`;
    const stderr = await refused('insecure-refused', dockerfile);
    assert.match(stderr, /^error: \S*\/Dockerfile:2:1: .*RUN --security=insecure .* needs the security\.insecure entitlement/m);
    assert.match(stderr, /--allow security\.insecure/);
    const bounding = /^CapBnd:\t([0-9a-f]+)$/m.exec(await readFile('/proc/self/status', 'utf8'))?.[1];
    const config = join(configDir, 'insecure.json');
    await writeFile(config, JSON.stringify({ entitlements: ['security.insecure'] }));
    for (const [name, args, env] of [['insecure-allow', ['--allow', 'security.insecure'], noConfig()], ['insecure-config', [], { GANTRY_CONFIG: config }]] as const) {
      const out = await buildOut(name, dockerfile, [...args], env);
      const status = await out.read('out/status');
      assert.match(status, /^Seccomp:\t0$/m);
      assert.equal(/^CapEff:\t([0-9a-f]+)$/m.exec(status)?.[1], bounding, 'every capability the host has');
      assert.match(await out.read('out/unshare'), /unshare-ok/);
      assert.match(await out.read('out/mount'), /mount-ok/);
    }
  });
});
