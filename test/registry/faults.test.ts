/**
 * Failures injected between gantry and a real registry: dropped connections mid-blob, 5xx, 429 with
 * Retry-After, slow and stalled bodies, a corrupted byte. Proves downloads resume with Range, retries
 * are bounded, and nothing corrupt or partial is left in the store or the registry.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Descriptor, ImageManifest } from '../../src/image/types.js';
import { closeRegistrySession, fetchManifest, RegistryError, type RegistryOptions, type RegistryProgressEvent } from '../../src/registry/index.js';
import { pullImage, pushImage } from '../../src/app/registry-use-cases.js';
import type { Store } from '../../src/store/store.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { noise, storeContents, tempStores, writeImage, writeIndex } from './helpers/images.js';
import { startRegistry, type RegistryServer } from './helpers/registry-server.js';
import { gantry, readJsonBlob } from '../helpers/gantry.js';

describe('faults between gantry and the registry', () => {
  let registry: RegistryServer;
  let proxy: FaultProxy;
  let host: string;
  let source: Store;
  let image: Descriptor;
  let bigLayer: Descriptor;
  const stores = tempStores();
  const events: RegistryProgressEvent[] = [];
  const optionSets: RegistryOptions[] = [];
  const makeOptions = (extra: RegistryOptions = {}): RegistryOptions => {
    const options: RegistryOptions = {
      retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 2000 },
      chunkedUploadThreshold: 64 * 1024,
      chunkSize: 32 * 1024,
      onProgress: (event) => events.push(event),
      ...extra,
    };
    optionSets.push(options);
    return options;
  };

  before(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.port);
    host = proxy.host;
    source = await stores.open();
    image = await writeImage(source, { layers: [{ 'small.txt': 'small' }, { 'big.bin': noise(200 * 1024) }] });
    await source.refs.set('fault:1', image);
    bigLayer = (await readJsonBlob<ImageManifest>(source.content, image.digest)).layers[1];
    await pushImage(source, 'fault:1', `${host}/faults/app:1`, makeOptions());
  });
  beforeEach(() => {
    proxy.clear();
    events.length = 0;
  });
  after(async () => {
    for (const options of optionSets) await closeRegistrySession(options);
    await proxy?.close();
    await registry?.stop();
    await stores.cleanup();
  });

  const blobPath = (digest: string) => new RegExp(`/blobs/${digest}$`);

  test('a download cut off mid-blob resumes with Range and the verified blob is stored', async () => {
    proxy.inject({ method: 'GET', path: blobPath(bigLayer.digest), fault: { type: 'drop-after', bytes: 50_000 } });
    const store = await stores.open();
    const pulled = await pullImage(store, `${host}/faults/app:1`, makeOptions());
    assert.equal(pulled.descriptor.digest, image.digest);
    const gets = proxy.log.filter((e) => e.method === 'GET' && e.path.endsWith(bigLayer.digest));
    assert.equal(gets.length, 2);
    assert.match(gets[1].range ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/\d+/.exec(gets[1].range ?? '')?.[0]) > 0, 'resumed past the start');
    assert.equal(gets[1].status, 206);
    assert.ok(await store.content.has(bigLayer.digest));
    assert.deepEqual((await storeContents(store)).ingest, []);
    assert.ok(events.some((e) => e.kind === 'retry' && /resuming at byte/.test(e.reason)));
  });

  test('a stalled body times out and the download resumes', async () => {
    proxy.inject({ method: 'GET', path: blobPath(bigLayer.digest), fault: { type: 'slow', chunkBytes: 16 * 1024, delayMs: 1500 } });
    const store = await stores.open();
    await pullImage(store, `${host}/faults/app:1`, makeOptions({ timeoutMs: 300 }));
    assert.ok(await store.content.has(bigLayer.digest));
    const gets = proxy.log.filter((e) => e.method === 'GET' && e.path.endsWith(bigLayer.digest));
    assert.equal(gets.length, 2);
    assert.match(gets[1].range ?? '', /^bytes=\d+-$/);
  });

  test('a slow body is waited for', async () => {
    proxy.inject({ method: 'GET', path: blobPath(bigLayer.digest), fault: { type: 'slow', chunkBytes: 64 * 1024, delayMs: 10 } });
    const store = await stores.open();
    await pullImage(store, `${host}/faults/app:1`, makeOptions());
    assert.ok(await store.content.has(bigLayer.digest));
    assert.equal(proxy.log.filter((e) => e.method === 'GET' && e.path.endsWith(bigLayer.digest)).length, 1);
  });

  test('a corrupted byte fails the pull and nothing enters the store', async () => {
    proxy.inject({ method: 'GET', path: blobPath(bigLayer.digest), fault: { type: 'corrupt', at: 1234 } });
    const store = await stores.open();
    await assert.rejects(pullImage(store, `${host}/faults/app:1`, makeOptions()), (err: Error) => {
      assert.match(err.message, /digest mismatch/);
      return true;
    });
    assert.equal(await store.content.has(bigLayer.digest), false);
    assert.deepEqual((await storeContents(store)).ingest, []);
    assert.deepEqual(await store.refs.list(), []);
  });

  test('a body that trickles a few bytes at a time is given up on, and the download fails cleanly', async () => {
    proxy.inject({ method: 'GET', path: blobPath(bigLayer.digest), fault: { type: 'slow', chunkBytes: 1, delayMs: 100 }, times: Infinity });
    const store = await stores.open();
    await assert.rejects(pullImage(store, `${host}/faults/app:1`, makeOptions({ timeoutMs: 1000 })), (err: Error) => {
      assert.match(err.message, /download failed after 4 attempts .*the server sent \d+ bytes in \d+ s/);
      return true;
    });
    assert.equal(await store.content.has(bigLayer.digest), false);
    assert.deepEqual((await storeContents(store)).ingest, []);
  });

  test('a redirect to a file or another protocol is refused, not followed', async () => {
    for (const location of ['file:///etc/passwd', 'ftp://127.0.0.1/blob', 'gopher://x']) {
      proxy.clear();
      proxy.inject({ method: 'GET', path: blobPath(bigLayer.digest), fault: { type: 'status', status: 307, headers: { location } } });
      const store = await stores.open();
      await assert.rejects(pullImage(store, `${host}/faults/app:1`, makeOptions()), (err: Error) => {
        assert.match(err.message, new RegExp(`redirected to "${location.split(':')[0]}:…", which gantry does not follow`));
        return true;
      });
      assert.equal(await store.content.has(bigLayer.digest), false);
    }
  });

  test('an answer that is not valid HTTP (headers too large, a malformed Content-Length) is a clear error', async () => {
    for (const set of [{ 'x-padding': 'p'.repeat(200_000) }, { 'content-length': 'abc' }] as Array<Record<string, string>>) {
      proxy.clear();
      proxy.inject({ method: 'GET', path: /\/manifests\/1$/, fault: { type: 'headers', set } });
      const store = await stores.open();
      await assert.rejects(pullImage(store, `${host}/faults/app:1`, makeOptions()), (err: Error) => {
        assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${err.stack}`);
        assert.match(err.message, /GET .*manifest 1: the answer from 127\.0\.0\.1:\d+ is not valid HTTP/);
        return true;
      });
      assert.deepEqual(await store.refs.list(), []);
    }
  });

  test('a manifest whose body is cut off is a clear error, not an internal one', async () => {
    proxy.inject({ method: 'GET', path: /\/manifests\/1$/, fault: { type: 'drop-after', bytes: 10 } });
    const store = await stores.open();
    await assert.rejects(pullImage(store, `${host}/faults/app:1`, makeOptions()), (err: Error) => {
      assert.ok(err instanceof RegistryError, `expected a RegistryError, got ${err.stack}`);
      assert.match(err.message, /GET .*manifest 1: the connection broke while reading the answer: UND_ERR_SOCKET: other side closed/);
      return true;
    });
    assert.deepEqual(await store.refs.list(), []);
  });

  test('manifest inspect of a manifest nested 100000 deep is a clear error', async () => {
    const deep = Buffer.from(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    proxy.inject({ method: 'GET', path: /\/manifests\/1$/, fault: { type: 'status', status: 200, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: deep } });
    const dir = await stores.dir();
    const result = await gantry(dir, ['manifest', 'inspect', `${host}/faults/app:1`]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^error: .*faults\/app:1: sha256:[a-f0-9]{64}: it nests more than 100 levels deep$/m);
  });

  test('connections that keep dropping fail after the configured attempts, leaving nothing partial', async () => {
    proxy.inject({ method: 'GET', path: blobPath(bigLayer.digest), fault: { type: 'drop-after', bytes: 10_000 }, times: Infinity });
    const store = await stores.open();
    await assert.rejects(pullImage(store, `${host}/faults/app:1`, makeOptions()), /download failed after 4 attempts/);
    assert.equal(proxy.log.filter((e) => e.method === 'GET' && e.path.endsWith(bigLayer.digest)).length, 4);
    assert.equal(await store.content.has(bigLayer.digest), false);
    assert.deepEqual((await storeContents(store)).ingest, []);
  });

  test('5xx answers are retried, and give up after the configured attempts', async () => {
    proxy.inject({ method: 'GET', path: /\/manifests\/1$/, fault: { type: 'status', status: 503 }, times: 2 });
    const store = await stores.open();
    await pullImage(store, `${host}/faults/app:1`, makeOptions());
    assert.deepEqual(proxy.log.filter((e) => e.path.endsWith('/manifests/1')).map((e) => e.status), [503, 503, 200]);

    proxy.clear();
    proxy.inject({ method: 'GET', path: /\/manifests\/1$/, fault: { type: 'status', status: 500 }, times: Infinity });
    await assert.rejects(pullImage(await stores.open(), `${host}/faults/app:1`, makeOptions()), /HTTP 500/);
    assert.equal(proxy.log.filter((e) => e.path.endsWith('/manifests/1')).length, 4);
  });

  test('429 waits for Retry-After', async () => {
    proxy.inject({ method: 'GET', path: /\/manifests\/1$/, fault: { type: 'status', status: 429, headers: { 'retry-after': '1' } } });
    await pullImage(await stores.open(), `${host}/faults/app:1`, makeOptions());
    const retry = events.find((e) => e.kind === 'retry');
    assert.equal(retry?.kind === 'retry' ? retry.delayMs : undefined, 1000);
    assert.equal(retry?.kind === 'retry' ? retry.reason : undefined, 'HTTP 429');
  });

  test('an upload whose connection drops is restarted and completes', async () => {
    const store = await stores.open();
    const fresh = await writeImage(store, { layers: [{ 'upload.bin': noise(150 * 1024) }] });
    await store.refs.set('upload:1', fresh);
    proxy.inject({ method: 'PATCH', path: /\/blobs\/uploads\//, fault: { type: 'drop-request' } });
    await pushImage(store, 'upload:1', `${host}/faults/upload:1`, makeOptions());
    assert.ok(proxy.log.filter((e) => e.method === 'POST' && /\/blobs\/uploads\/$/.test(e.path)).length >= 2, 'the upload was started again');
    const check = await stores.open();
    const pulled = await pullImage(check, `${host}/faults/upload:1`, makeOptions());
    assert.equal(pulled.descriptor.digest, fresh.digest);
  });

  test('an upload that keeps failing leaves neither the blob nor the tag in the registry', async () => {
    const store = await stores.open();
    const doomed = await writeImage(store, { layers: [{ 'doomed.bin': noise(100 * 1024) }] });
    await store.refs.set('doomed:1', doomed);
    const layer = (await readJsonBlob<ImageManifest>(store.content, doomed.digest)).layers[0];
    proxy.inject({ method: 'PUT', path: new RegExp(`digest=${encodeURIComponent(layer.digest)}`), fault: { type: 'status', status: 500 }, times: Infinity });
    const options = makeOptions();
    await assert.rejects(pushImage(store, 'doomed:1', `${host}/faults/doomed:1`, options), /HTTP 500/);
    proxy.clear();
    const check = await fetch(`http://${registry.host}/v2/faults/doomed/blobs/${layer.digest}`, { method: 'HEAD' });
    assert.equal(check.status, 404);
    await assert.rejects(fetchManifest(`${host}/faults/doomed:1`, options), /MANIFEST_UNKNOWN|NAME_UNKNOWN/);
  });

  test('a platform that fails to push leaves a multi-platform tag at its previous value, and the error names it', async () => {
    const store = await stores.open();
    const previous = await writeImage(store, { layers: [{ version: 'previous' }] });
    await store.refs.set('multi:previous', previous);
    await pushImage(store, 'multi:previous', `${host}/faults/multi:1`, makeOptions());

    const amd64 = await writeImage(store, { platform: { os: 'linux', architecture: 'amd64' }, layers: [{ version: 'new amd64' }] });
    const arm64 = await writeImage(store, { platform: { os: 'linux', architecture: 'arm64' }, layers: [{ version: 'new arm64' }] });
    const index = await writeIndex(store, [amd64, arm64]);
    await store.refs.set('multi:new', index);
    const armLayer = (await readJsonBlob<ImageManifest>(store.content, arm64.digest)).layers[0];
    proxy.inject({ method: 'PUT', path: new RegExp(`digest=${encodeURIComponent(armLayer.digest)}`), fault: { type: 'status', status: 500 }, times: Infinity });
    const options = makeOptions();
    await assert.rejects(pushImage(store, 'multi:new', `${host}/faults/multi:1`, options), (err: Error & { hint?: string }) => {
      assert.match(err.message, /linux\/arm64/);
      assert.doesNotMatch(err.message, /linux\/amd64/);
      assert.match(err.hint ?? '', /tag 1 was not changed/);
      return true;
    });
    proxy.clear();
    assert.equal((await fetchManifest(`${host}/faults/multi:1`, options)).descriptor.digest, previous.digest);
    // The healthy platform was pushed all the same; a retry only needs the failed one.
    assert.equal((await fetchManifest(`${host}/faults/multi@${amd64.digest}`, options)).descriptor.digest, amd64.digest);

    await pushImage(store, 'multi:new', `${host}/faults/multi:1`, options);
    assert.equal((await fetchManifest(`${host}/faults/multi:1`, options)).descriptor.digest, index.digest);
  });
});
