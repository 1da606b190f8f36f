/**
 * Push and pull through a real distribution registry over plain HTTP on 127.0.0.1 (allowed without
 * an insecure-registry setting, as for Docker), watched through a pass-through proxy that logs every
 * request. Two stores stand for two CI machines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MediaType, type Descriptor, type ImageIndex, type ImageManifest } from '../../src/image/types.js';
import { findLocalImage } from '../../src/store/images.js';
import { closeRegistrySession, createManifestList, fetchManifest, listReferrers, resolveRemote, type RegistryOptions, type RegistryProgressEvent } from '../../src/registry/index.js';
import { pullArtifact, pullImage, pushArtifact, pushImage } from '../../src/app/registry-use-cases.js';
import { writeArtifact } from '../../src/store/index.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { noise, storeContents, tempStores, writeImage, writeIndex } from './helpers/images.js';
import { startRegistry, type RegistryServer } from './helpers/registry-server.js';

describe('push and pull over plain HTTP', () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  let host: string;
  const stores = tempStores();
  const events: RegistryProgressEvent[] = [];
  const options: RegistryOptions = {
    retry: { attempts: 3, baseDelayMs: 5 },
    chunkedUploadThreshold: 64 * 1024,
    chunkSize: 32 * 1024,
    onProgress: (event) => events.push(event),
  };

  before(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.port);
    host = proxy.host;
  });
  after(async () => {
    await closeRegistrySession(options);
    await proxy?.close();
    await registry?.stop();
    await stores.cleanup();
  });

  test('an image pushed from one store is pulled identically into another', async () => {
    const storeA = await stores.open();
    const image = await writeImage(storeA, { layers: [{ 'etc/hello': 'hello\n' }, { 'big.bin': noise(150 * 1024) }] });
    await storeA.refs.set('app:1', image);

    const pushed = await pushImage(storeA, 'app:1', `${host}/team/app:1`, options);
    assert.equal(pushed.descriptor.digest, image.digest);
    assert.equal(pushed.reference, `${host}/team/app:1`);
    // The small layer went up in one PUT, the large one in several PATCH chunks.
    assert.ok(proxy.log.some((e) => e.method === 'PATCH'), 'a chunked upload happened');
    const manifestPut = proxy.log.find((e) => e.method === 'PUT' && e.path === '/v2/team/app/manifests/1');
    assert.equal(manifestPut?.status, 201);

    const storeB = await stores.open();
    const pulled = await pullImage(storeB, `${host}/team/app:1`, options);
    assert.equal(pulled.descriptor.digest, image.digest);
    assert.equal(pulled.remoteDigest, image.digest);
    assert.deepEqual(pulled.platform, { os: 'linux', architecture: 'amd64' });
    const local = await findLocalImage(storeB, `${host}/team/app:1`);
    assert.equal(local?.descriptor.digest, image.digest);
    assert.equal(local?.config.os, 'linux');
    const contents = await storeContents(storeB);
    assert.equal(contents.blobs.length, 4, 'manifest, config and two layers');
    assert.deepEqual(contents.ingest, []);

    const done = events.filter((e) => e.kind === 'blob' && e.phase === 'done' && e.direction === 'pull');
    assert.equal(done.length, 3);
    for (const event of done) if (event.kind === 'blob') assert.equal(event.bytes, event.size);
  });

  test('a second push skips blobs the registry has (HEAD) and uploads nothing', async () => {
    const store = await stores.open();
    const image = await writeImage(store, { layers: [{ a: 'same content' }] });
    await store.refs.set('again:1', image);
    await pushImage(store, 'again:1', `${host}/team/again:1`, options);
    proxy.clear();
    events.length = 0;
    await pushImage(store, 'again:1', `${host}/team/again:2`, options);
    assert.equal(proxy.log.filter((e) => e.method === 'POST' || e.method === 'PATCH').length, 0);
    assert.equal(events.filter((e) => e.kind === 'blob' && e.phase === 'exists').length, 2, 'config and layer reported as present');
    assert.ok(events.some((e) => e.kind === 'manifest' && e.direction === 'push' && e.tag === '2'));
    assert.ok(proxy.log.filter((e) => e.method === 'HEAD' && e.path.includes('/blobs/')).every((e) => e.status === 200));
  });

  test('blobs in another repository of the registry are mounted, not uploaded', async () => {
    const store = await stores.open();
    const image = await writeImage(store, { layers: [{ 'mounted.txt': 'shared layer' }] });
    await store.refs.set('mount:1', image);
    await pushImage(store, 'mount:1', `${host}/base/image:1`, options);
    proxy.clear();
    events.length = 0;
    await pushImage(store, 'mount:1', `${host}/other/image:1`, { ...options, mountFrom: [`${host}/base/image`] });
    const mounts = proxy.log.filter((e) => e.method === 'POST' && e.path.includes('mount='));
    assert.ok(mounts.length >= 2, 'config and layer mounted');
    assert.ok(mounts.every((e) => e.status === 201 && e.path.includes('from=base%2Fimage')));
    assert.equal(proxy.log.filter((e) => e.method === 'PATCH' || (e.method === 'PUT' && e.path.includes('/blobs/'))).length, 0);
    assert.ok(events.some((e) => e.kind === 'blob' && e.phase === 'mounted'));
  });

  test('the process remembers where blobs came from and mounts from there without being told', async () => {
    const store = await stores.open();
    const image = await writeImage(store, { layers: [{ 'remembered.txt': 'remember me' }] });
    await store.refs.set('remember:1', image);
    await pushImage(store, 'remember:1', `${host}/first/repo:1`, options);
    proxy.clear();
    await pushImage(store, 'remember:1', `${host}/second/repo:1`, options);
    assert.ok(proxy.log.some((e) => e.method === 'POST' && e.path.includes('from=first%2Frepo') && e.status === 201));
  });

  test('a multi-platform index pushes every platform, and a pull picks the requested one', async () => {
    const storeA = await stores.open();
    const amd64 = await writeImage(storeA, { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ arch: 'amd64' }] });
    const arm64 = await writeImage(storeA, { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ arch: 'arm64' }] });
    const index = await writeIndex(storeA, [amd64, arm64]);
    await storeA.refs.set('multi:1', index);
    const pushed = await pushImage(storeA, 'multi:1', `${host}/team/multi:1`, options);
    assert.equal(pushed.descriptor.digest, index.digest);

    const storeB = await stores.open();
    const pulled = await pullImage(storeB, `${host}/team/multi:1`, { ...options, platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(pulled.remoteDigest, index.digest);
    assert.equal(pulled.descriptor.digest, arm64.digest);
    assert.equal((await findLocalImage(storeB, `${host}/team/multi:1`))?.config.architecture, 'arm64');
    assert.equal(await storeB.content.has(amd64.digest), false, 'the other platform is not downloaded');

    const storeC = await stores.open();
    const all = await pullImage(storeC, `${host}/team/multi:1`, { ...options, allPlatforms: true });
    assert.equal(all.descriptor.digest, index.digest);
    assert.ok(await storeC.content.has(amd64.digest));
    assert.ok(await storeC.content.has(arm64.digest));

    const remote = await resolveRemote(`${host}/team/multi:1`, { os: 'linux', architecture: 'amd64' }, options);
    assert.equal(remote.root.digest, index.digest);
    assert.equal(remote.descriptor.digest, amd64.digest);
    assert.equal(remote.config.architecture, 'amd64');
    assert.equal(remote.pinned, `${host}/team/multi@${amd64.digest}`);

    await assert.rejects(pullImage(await stores.open(), `${host}/team/multi:1`, { ...options, platform: { os: 'linux', architecture: 's390x' } }), /no image for platform linux\/s390x/);
  });

  test('Docker schema 2 images push and pull with their media types', async () => {
    const storeA = await stores.open();
    const image = await writeImage(storeA, { mediaTypes: 'docker', layers: [{ docker: 'yes' }] });
    await storeA.refs.set('docker:1', image);
    await pushImage(storeA, 'docker:1', `${host}/team/docker:1`, options);
    const fetched = await fetchManifest(`${host}/team/docker:1`, options);
    assert.equal(fetched.descriptor.mediaType, MediaType.dockerManifest);
    const storeB = await stores.open();
    const pulled = await pullImage(storeB, `${host}/team/docker:1`, options);
    assert.equal(pulled.descriptor.mediaType, MediaType.dockerManifest);
    assert.equal(pulled.descriptor.digest, image.digest);
  });

  test('a pull by digest stores the image unnamed; a missing tag or another platform is refused', async () => {
    const storeA = await stores.open();
    const image = await writeImage(storeA, { layers: [{ pinned: 'by digest' }] });
    await storeA.refs.set('pinned:1', image);
    await pushImage(storeA, 'pinned:1', `${host}/team/pinned:1`, options);
    const storeB = await stores.open();
    const pulled = await pullImage(storeB, `${host}/team/pinned@${image.digest}`, options);
    assert.equal(pulled.descriptor.digest, image.digest);
    const entries = await storeB.refs.list();
    assert.deepEqual(entries.map((e) => [e.name, e.descriptor.digest]), [[undefined, image.digest]]);
    await assert.rejects(pullImage(storeB, `${host}/team/pinned:nope`, options), (err: Error) => /MANIFEST_UNKNOWN/.test(err.message));
    const storeC = await stores.open();
    await assert.rejects(pullImage(storeC, `${host}/team/pinned:1`, { ...options, platform: { os: 'linux', architecture: 'arm64' } }), /is an image for linux\/amd64, not linux\/arm64/);
    assert.deepEqual(await storeC.refs.list(), [], 'a refused image is not named');
  });

  test('manifest lists are assembled in the registry from single-platform images of other repositories', async () => {
    const store = await stores.open();
    const amd64 = await writeImage(store, { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ list: 'amd64' }] });
    const arm = await writeImage(store, { platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, layers: [{ list: 'arm' }] });
    await store.refs.set('list-amd64:1', amd64);
    await store.refs.set('list-arm:1', arm);
    await pushImage(store, 'list-amd64:1', `${host}/src/amd64:1`, options);
    await pushImage(store, 'list-arm:1', `${host}/src/arm:1`, options);
    proxy.clear();
    const created = await createManifestList([`${host}/src/amd64:1`, `${host}/src/arm:1`], `${host}/team/list:1`, options);
    assert.ok(proxy.log.some((e) => e.method === 'POST' && e.path.includes('mount=') && e.status === 201), 'blobs mounted from the source repositories');
    const fetched = await fetchManifest(`${host}/team/list:1`, options);
    assert.equal(fetched.descriptor.digest, created.descriptor.digest);
    const index = JSON.parse(fetched.bytes.toString()) as ImageIndex;
    assert.deepEqual(index.manifests.map((m) => [m.digest, m.platform]), [
      [amd64.digest, { os: 'linux', architecture: 'amd64' }],
      [arm.digest, { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ]);
    const remote = await resolveRemote(`${host}/team/list:1`, { os: 'linux', architecture: 'arm', variant: 'v7' }, options);
    assert.equal(remote.descriptor.digest, arm.digest);
  });

  test('artifacts with any media types push and pull, and referrers are found through the fallback tag', async () => {
    const storeA = await stores.open();
    const image = await writeImage(storeA, { layers: [{ subject: 'of referrers' }] });
    await storeA.refs.set('subject:1', image);
    await pushImage(storeA, 'subject:1', `${host}/team/subject:1`, options);

    const cache = await writeArtifact(storeA, {
      artifactType: 'application/vnd.example.cache.v1',
      config: { mediaType: 'application/vnd.example.cache.config.v1+json', data: '{"records":2}' },
      layers: [
        { mediaType: 'application/vnd.example.cache.blob.v1', data: 'first record', annotations: { 'org.example.key': 'a' } },
        { mediaType: 'application/vnd.example.cache.blob.v1', data: noise(100 * 1024) },
      ],
    });
    await pushArtifact(storeA, cache, `${host}/team/cache:buildcache`, options);
    const storeB = await stores.open();
    const pulled = await pullArtifact(storeB, `${host}/team/cache:buildcache`, options);
    assert.equal(pulled.descriptor.digest, cache.digest);
    const manifest = pulled.manifest as ImageManifest;
    assert.equal(manifest.artifactType, 'application/vnd.example.cache.v1');
    assert.equal((await storeB.content.readBytes(manifest.layers[0].digest)).toString(), 'first record');
    assert.ok(await storeB.content.has(manifest.layers[1].digest));

    const subject: Descriptor = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const signature = await writeArtifact(storeA, {
      artifactType: 'application/vnd.example.signature.v1',
      layers: [{ mediaType: 'application/vnd.example.signature.v1', data: 'signed' }],
      subject,
      annotations: { 'org.example.signer': 'ci' },
    });
    const sbom = await writeArtifact(storeA, { artifactType: 'application/vnd.example.sbom.v1', layers: [], subject });
    await pushArtifact(storeA, signature, `${host}/team/subject@${signature.digest}`, options);
    await pushArtifact(storeA, sbom, `${host}/team/subject@${sbom.digest}`, options);
    // distribution 2.8 has no referrers API: the list lives in the sha256-<hex> tag.
    assert.ok(proxy.log.some((e) => e.method === 'PUT' && e.path === `/v2/team/subject/manifests/sha256-${image.digest.slice(7)}`));

    const referrers = await listReferrers(`${host}/team/subject:1`, options);
    assert.deepEqual(referrers.map((r) => [r.digest, r.artifactType]).sort(), [
      [signature.digest, 'application/vnd.example.signature.v1'],
      [sbom.digest, 'application/vnd.example.sbom.v1'],
    ].sort());
    assert.deepEqual(referrers.find((r) => r.digest === signature.digest)?.annotations, { 'org.example.signer': 'ci' });
    const onlySignatures = await listReferrers(`${host}/team/subject@${image.digest}`, { ...options, artifactType: 'application/vnd.example.signature.v1' });
    assert.deepEqual(onlySignatures.map((r) => r.digest), [signature.digest]);
    assert.deepEqual(await listReferrers(`${host}/team/subject@${cache.digest}`, options), []);
  });
  test('an image’s referrers go with it on push and come with it on pull', async () => {
    const storeA = await stores.open();
    const image = await writeImage(storeA, { layers: [{ 'etc/signed': 'yes\n' }] });
    await storeA.refs.set('signed:1', image);
    const subject: Descriptor = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const signature = await writeArtifact(storeA, { artifactType: 'application/vnd.example.signature.v1', layers: [{ mediaType: 'application/vnd.example.signature.v1', data: 'sig' }], subject });
    const attestation = await writeArtifact(storeA, {
      artifactType: 'application/vnd.example.attestation.v1',
      layers: [],
      subject: { mediaType: signature.mediaType, digest: signature.digest, size: signature.size },
    });
    await pushImage(storeA, 'signed:1', `${host}/team/signed:1`, options);
    assert.deepEqual((await listReferrers(`${host}/team/signed:1`, options)).map((r) => r.digest), [signature.digest]);
    assert.deepEqual((await listReferrers(`${host}/team/signed@${signature.digest}`, options)).map((r) => r.digest), [attestation.digest]);

    const storeB = await stores.open();
    await pullImage(storeB, `${host}/team/signed:1`, options);
    assert.deepEqual((await storeB.referrers.list(image.digest)).map((r) => r.digest), [signature.digest]);
    assert.deepEqual((await storeB.referrers.list(signature.digest)).map((r) => r.digest), [attestation.digest]);
    assert.ok(await storeB.content.has(attestation.digest));
  });
});
