/**
 * Interoperability with skopeo through a real registry: skopeo reads what gantry pushed (single and
 * multi-platform), and gantry pulls what skopeo pushed from an OCI layout (the store of another
 * gantry, which is one) as OCI and as Docker schema 2. Also pull mirrors, with fallback to the origin.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { MediaType, type ImageIndex } from '../../src/image/types.js';
import { closeRegistrySession, fetchManifest, type RegistryOptions } from '../../src/registry/index.js';
import { pullImage, pushImage } from '../../src/app/registry-use-cases.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { tempStores, writeImage, writeIndex } from './helpers/images.js';
import { freePort, requireTool, startRegistry, type RegistryServer } from './helpers/registry-server.js';

const run = promisify(execFile);
const stores = tempStores();
const optionSets: RegistryOptions[] = [];
function options(extra: RegistryOptions = {}): RegistryOptions {
  const result: RegistryOptions = { retry: { attempts: 3, baseDelayMs: 5 }, ...extra };
  optionSets.push(result);
  return result;
}

after(async () => {
  for (const set of optionSets) await closeRegistrySession(set);
  await stores.cleanup();
});

describe('skopeo interoperability', () => {
  let registry: RegistryServer;
  let host: string;

  before(async () => {
    requireTool('skopeo', 'skopeo');
    registry = await startRegistry();
    host = registry.host;
  });
  after(async () => {
    await registry?.stop();
  });

  const skopeo = async (...args: string[]) => (await run('skopeo', args, { maxBuffer: 16 * 1024 * 1024 })).stdout;

  test('skopeo inspects and copies what gantry pushed', async () => {
    const store = await stores.open();
    const image = await writeImage(store, { layers: [{ 'etc/os-release': 'ID=gantry-test\n' }, { 'bin/tool': 'tool' }] });
    await store.refs.set('interop:1', image);
    await pushImage(store, 'interop:1', `${host}/team/interop:1`, options());

    const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${host}/team/interop:1`)) as { Digest: string; Layers: string[]; Architecture: string };
    assert.equal(inspected.Digest, image.digest);
    assert.equal(inspected.Layers.length, 2);
    assert.equal(inspected.Architecture, 'amd64');
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/team/interop:1`);
    assert.equal(raw, (await store.content.readBytes(image.digest)).toString());
    const out = await stores.dir();
    await skopeo('copy', '--src-tls-verify=false', `docker://${host}/team/interop:1`, `oci:${out}:copy`);
  });

  test('skopeo copies every platform of an index gantry pushed', async () => {
    const store = await stores.open();
    const amd64 = await writeImage(store, { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ arch: 'amd64' }] });
    const arm64 = await writeImage(store, { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ arch: 'arm64' }] });
    const index = await writeIndex(store, [amd64, arm64]);
    await store.refs.set('interop-multi:1', index);
    await pushImage(store, 'interop-multi:1', `${host}/team/interop-multi:1`, options());
    const raw = JSON.parse(await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${host}/team/interop-multi:1`)) as ImageIndex;
    assert.deepEqual(raw.manifests.map((m) => m.digest), [amd64.digest, arm64.digest]);
    const out = await stores.dir();
    await skopeo('copy', '--all', '--src-tls-verify=false', `docker://${host}/team/interop-multi:1`, `oci:${out}:copy`);
  });

  test('gantry pulls what skopeo pushed from an OCI layout, as OCI and as Docker schema 2', async () => {
    const storeA = await stores.open();
    const image = await writeImage(storeA, { layers: [{ 'from/skopeo': 'pushed by skopeo' }] });
    await storeA.refs.set('from-skopeo:1', image);
    // The store is an OCI image layout whose index.json names the image "from-skopeo:1".
    await skopeo('copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${storeA.root}:from-skopeo:1`, `docker://${host}/team/from-skopeo:1`);
    await skopeo('copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${storeA.root}:from-skopeo:1`, `docker://${host}/team/from-skopeo:v2s2`);

    const storeB = await stores.open();
    const pulled = await pullImage(storeB, `${host}/team/from-skopeo:1`, options());
    assert.equal(pulled.descriptor.digest, image.digest);
    const docker = await pullImage(storeB, `${host}/team/from-skopeo:v2s2`, options());
    assert.equal(docker.descriptor.mediaType, MediaType.dockerManifest);
  });
});

describe('pull mirrors', () => {
  let origin: RegistryServer;
  let mirror: RegistryServer;
  let originProxy: FaultProxy;
  let mirrorProxy: FaultProxy;

  before(async () => {
    origin = await startRegistry();
    mirror = await startRegistry();
    originProxy = await startFaultProxy(origin.port);
    mirrorProxy = await startFaultProxy(mirror.port);
  });
  after(async () => {
    await originProxy?.close();
    await mirrorProxy?.close();
    await origin?.stop();
    await mirror?.stop();
  });

  test('a mirror that has the image serves it; one that lacks it or is down falls back to the registry', async () => {
    const store = await stores.open();
    const cached = await writeImage(store, { layers: [{ mirrored: 'yes' }] });
    const uncached = await writeImage(store, { layers: [{ mirrored: 'no' }] });
    await store.refs.set('cached:1', cached);
    await store.refs.set('uncached:1', uncached);
    const originHost = originProxy.host;
    await pushImage(store, 'cached:1', `${originHost}/library/app:cached`, options());
    await pushImage(store, 'uncached:1', `${originHost}/library/app:uncached`, options());
    // The mirror holds the same repository path, as a pull-through cache would.
    await pushImage(store, 'cached:1', `${mirrorProxy.host}/library/app:cached`, options());

    const mirrored = options({ mirrors: { [originHost]: [`http://${mirrorProxy.host}`] } });
    originProxy.clear();
    mirrorProxy.clear();
    const fromMirror = await pullImage(await stores.open(), `${originHost}/library/app:cached`, mirrored);
    assert.equal(fromMirror.descriptor.digest, cached.digest);
    assert.ok(mirrorProxy.log.some((e) => e.method === 'GET' && e.path.includes('/blobs/') && e.status === 200));
    assert.equal(originProxy.log.filter((e) => e.path.startsWith('/v2/library')).length, 0, 'the registry was not asked');

    mirrorProxy.clear();
    const fallback = await pullImage(await stores.open(), `${originHost}/library/app:uncached`, mirrored);
    assert.equal(fallback.descriptor.digest, uncached.digest);
    assert.ok(mirrorProxy.log.some((e) => e.path.endsWith('/manifests/uncached') && e.status === 404));
    assert.ok(originProxy.log.some((e) => e.path.endsWith('/manifests/uncached') && e.status === 200));

    const deadMirror = options({ mirrors: { [originHost]: [`http://127.0.0.1:${await freePort()}`] } });
    const despiteDead = await pullImage(await stores.open(), `${originHost}/library/app:cached`, deadMirror);
    assert.equal(despiteDead.descriptor.digest, cached.digest);
    assert.equal((await fetchManifest(`${originHost}/library/app:cached`, deadMirror)).descriptor.digest, cached.digest);
  });
});
