/**
 * Fast tests of the registry client's pieces: challenge parsing, scopes, back-off and Retry-After,
 * manifest type detection (schema 1 refused), Docker config credentials, endpoint security rules, and
 * the referrers API path against a small stand-in registry.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { MediaType, type Descriptor, type ImageIndex } from '../../src/image/types.js';
import { mergeScopes, parseWwwAuthenticate, repositoryScope } from '../../src/registry/auth.js';
import { DockerCredentialStore, normalizeRegistryHost } from '../../src/registry/credentials.js';
import { closeRegistrySession, listReferrers, type RegistryOptions } from '../../src/registry/index.js';
import { pullImage, pushArtifact } from '../../src/app/registry-use-cases.js';
import { writeArtifact } from '../../src/store/index.js';
import { resolveOptions } from '../../src/registry/options.js';
import { manifestMediaType, nextPage, referrersTag } from '../../src/registry/repository.js';
import { parseManifestOrIndex } from '../../src/image/documents.js';
import { referrerDescriptor } from '../../src/image/graph.js';
import { backoffDelay, parseRetryAfter } from '../../src/registry/retry.js';
import { isLoopback, RegistrySession } from '../../src/registry/session.js';
import { Store } from '../../src/store/store.js';
import { sha256 } from '../../src/util/digest.js';
import { isGantryError } from '../../src/util/errors.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-registry-unit-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('WWW-Authenticate', () => {
  test('a Bearer challenge with quoted parameters, commas inside quotes', () => {
    const [challenge] = parseWwwAuthenticate('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
    assert.deepEqual(challenge, {
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
    });
  });

  test('several challenges, unquoted values, escapes and spacing', () => {
    const challenges = parseWwwAuthenticate('Basic realm="Registry \\"one\\"" , Bearer realm=https://t.example/token, error="insufficient_scope"');
    assert.deepEqual(challenges, [
      { scheme: 'basic', params: { realm: 'Registry "one"' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/token', error: 'insufficient_scope' } },
    ]);
  });

  test('scopes for the same repository merge; others stay apart, sorted', () => {
    assert.equal(repositoryScope('team/app', ['pull', 'push']), 'repository:team/app:pull,push');
    assert.deepEqual(mergeScopes(['repository:b:pull', 'repository:a:push', 'repository:a:pull', 'repository:b:pull']), ['repository:a:pull,push', 'repository:b:pull']);
  });
});

describe('back-off', () => {
  test('doubles from the base delay, with jitter in the upper half, capped', () => {
    assert.equal(backoffDelay(1, 100, 10_000, () => 0), 50);
    assert.equal(backoffDelay(1, 100, 10_000, () => 1), 100);
    assert.equal(backoffDelay(3, 100, 10_000, () => 1), 400);
    assert.equal(backoffDelay(20, 100, 10_000, () => 1), 10_000);
  });

  test('Retry-After in seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    const now = Date.parse('2024-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Mon, 01 Jan 2024 00:00:07 GMT', now), 7000);
    assert.equal(parseRetryAfter('Sun, 31 Dec 2023 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  test('options are validated', () => {
    assert.throws(() => resolveOptions({ concurrency: 0 }), /concurrency must be a positive number/);
    assert.equal(resolveOptions({}).retry.attempts, 5);
  });
});

describe('manifest media types', () => {
  const oci = Buffer.from(JSON.stringify({ schemaVersion: 2, config: {}, layers: [] }));
  test('from Content-Type, else from the document', () => {
    assert.equal(manifestMediaType(MediaType.dockerManifest, oci, 'x'), MediaType.dockerManifest);
    assert.equal(manifestMediaType('application/json', oci, 'x'), MediaType.ociManifest);
    assert.equal(manifestMediaType(undefined, Buffer.from('{"schemaVersion":2,"manifests":[]}'), 'x'), MediaType.ociIndex);
    assert.equal(manifestMediaType('text/plain', Buffer.from(`{"mediaType":"${MediaType.dockerManifestList}","manifests":[]}`), 'x'), MediaType.dockerManifestList);
  });

  test('schema 1 is refused with a clear message', () => {
    assert.throws(() => manifestMediaType('application/vnd.docker.distribution.manifest.v1+prettyjws', Buffer.from('{"schemaVersion":1}'), 'old:1'), /old:1 is a Docker schema 1 manifest/);
    assert.throws(() => manifestMediaType('application/json', Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), 'old:1'), /schema 1/);
  });

  test('referrer descriptors carry artifactType (or the config type) and annotations', () => {
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'application/vnd.example.config', digest: sha256('{}'), size: 2 }, layers: [], annotations: { a: 'b' } }));
    const descriptor: Descriptor = { mediaType: MediaType.ociManifest, digest: sha256(bytes), size: bytes.length };
    assert.deepEqual(referrerDescriptor(descriptor, parseManifestOrIndex(descriptor, bytes, 'referrer')), { ...descriptor, artifactType: 'application/vnd.example.config', annotations: { a: 'b' } });
    assert.equal(referrersTag(descriptor.digest), `sha256-${descriptor.digest.slice(7)}`);
  });
});

describe('Docker config credentials', () => {
  test('registry names normalize as Docker does', () => {
    assert.equal(normalizeRegistryHost('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normalizeRegistryHost('registry-1.docker.io'), 'docker.io');
    assert.equal(normalizeRegistryHost('http://Localhost:5000/v2/'), 'localhost:5000');
    assert.throws(() => normalizeRegistryHost('  '), /not a registry host/);
  });

  test('auths entries: base64 auth, username/password, identity token, URL-shaped keys', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:pa:ss').toString('base64') },
          'https://ghcr.example/v2/': { username: 'gh', password: 'token' },
          'quay.example': { auth: Buffer.from('robot:').toString('base64'), identitytoken: 'refresh-me' },
        },
      }),
    );
    const store = new DockerCredentialStore(dir, {});
    assert.deepEqual(await store.get('docker.io'), { username: 'hubuser', password: 'pa:ss' });
    assert.deepEqual(await store.get('ghcr.example'), { username: 'gh', password: 'token' });
    assert.deepEqual(await store.get('quay.example'), { username: 'robot', identityToken: 'refresh-me' });
    assert.equal(await store.get('other.example'), undefined);
  });

  test('DOCKER_CONFIG locates the config; a broken file or a missing helper is reported clearly', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'config.json'), '{ not json');
    await assert.rejects(new DockerCredentialStore(undefined, { DOCKER_CONFIG: dir }).get('x.example'), /config\.json is not valid JSON/);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ credsStore: 'gantry-missing-helper' }));
    await assert.rejects(new DockerCredentialStore(dir, { PATH: dir }).get('x.example'), /docker-credential-gantry-missing-helper is not installed/);
  });
});

describe('endpoint rules', () => {
  test('loopback hosts may use HTTP; listed hosts may also skip certificate checks', async () => {
    assert.ok(isLoopback('localhost') && isLoopback('127.1.2.3') && isLoopback('::1'));
    assert.ok(!isLoopback('10.0.0.1') && !isLoopback('registry.example'));
    const session = new RegistrySession({ insecureRegistries: ['registry.example:5000', 'lab.example'] });
    assert.deepEqual(session.insecure('127.0.0.1:5000'), { allowHttp: true, insecureTls: false });
    assert.deepEqual(session.insecure('[::1]:5000'), { allowHttp: true, insecureTls: false });
    assert.deepEqual(session.insecure('registry.example:5000'), { allowHttp: true, insecureTls: true });
    assert.deepEqual(session.insecure('lab.example:443'), { allowHttp: true, insecureTls: true });
    assert.deepEqual(session.insecure('registry.example'), { allowHttp: false, insecureTls: false });
    assert.throws(() => session.mirror('https://mirror.example/prefix'), /path prefix are not supported/);
    await session.close();
  });
});

/** A stand-in registry for cases distribution 2.8 cannot show: schema 1 manifests and the referrers API. */
async function standInRegistry(handle: (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean) {
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/v2/') {
      res.writeHead(200).end('{}');
      return;
    }
    if (!handle(req, res, Buffer.concat(chunks))) res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const host = `127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { host, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('stand-in registries', () => {
  const options: RegistryOptions = { retry: { attempts: 2, baseDelayMs: 1 } };
  after(() => closeRegistrySession(options));

  test('a schema 1 image is refused with a clear message', async () => {
    const server = await standInRegistry((req, res) => {
      if (req.url !== '/v2/old/app/manifests/1') return false;
      res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }).end('{"schemaVersion":1,"name":"old/app","fsLayers":[]}');
      return true;
    });
    try {
      const store = await Store.open(await tempDir());
      await assert.rejects(pullImage(store, `${server.host}/old/app:1`, options), (err: Error & { hint?: string }) => {
        assert.match(err.message, /is a Docker schema 1 manifest, which gantry does not support/);
        assert.match(err.hint ?? '', /push the image again/);
        return true;
      });
    } finally {
      await server.close();
    }
  });

  test('a registry host that does not resolve is a clear error, not an internal one', async () => {
    const store = await Store.open(await tempDir());
    // .invalid never resolves (RFC 2606).
    await assert.rejects(pullImage(store, 'registry.gantry-test.invalid/app:1', options), (err: unknown) => {
      assert.ok(isGantryError(err), `not a GantryError: ${String(err)}`);
      assert.match(err.message, /registry\.gantry-test\.invalid/);
      return true;
    });
  });

  test('with a referrers API: pushes do not write the fallback tag, and listing uses the API and its filter', async () => {
    const subjectDigest = sha256('subject');
    const referrers: ImageIndex = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        { mediaType: MediaType.ociManifest, digest: sha256('one'), size: 3, artifactType: 'application/vnd.example.sig' },
        { mediaType: MediaType.ociManifest, digest: sha256('two'), size: 3, artifactType: 'application/vnd.example.sbom' },
      ],
    };
    const server = await standInRegistry((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method === 'GET' && url.pathname === `/v2/team/app/referrers/${subjectDigest}`) {
        res.writeHead(200, { 'content-type': MediaType.ociIndex }).end(JSON.stringify(referrers));
        return true;
      }
      if (req.method === 'HEAD' && url.pathname.includes('/blobs/')) {
        res.writeHead(200).end();
        return true;
      }
      if (req.method === 'PUT' && url.pathname.startsWith('/v2/team/app/manifests/')) {
        res.writeHead(201, { 'oci-subject': subjectDigest, 'docker-content-digest': url.pathname.split('/').pop() ?? '' }).end();
        return true;
      }
      return false;
    });
    try {
      const store = await Store.open(await tempDir());
      const artifact = await writeArtifact(store, {
        artifactType: 'application/vnd.example.sig',
        layers: [{ mediaType: 'application/vnd.example.sig', data: 'sig' }],
        subject: { mediaType: MediaType.ociManifest, digest: subjectDigest, size: 7 },
      });
      await pushArtifact(store, artifact, `${server.host}/team/app@${artifact.digest}`, options);
      assert.ok(server.requests.includes(`PUT /v2/team/app/manifests/${artifact.digest}`));
      assert.ok(!server.requests.some((r) => r.includes('/manifests/sha256-')), 'no fallback tag written');

      const all = await listReferrers(`${server.host}/team/app@${subjectDigest}`, options);
      assert.equal(all.length, 2);
      const signatures = await listReferrers(`${server.host}/team/app@${subjectDigest}`, { ...options, artifactType: 'application/vnd.example.sig' });
      assert.deepEqual(signatures.map((d) => d.digest), [sha256('one')]);
      assert.ok(server.requests.includes(`GET /v2/team/app/referrers/${subjectDigest}?artifactType=application%2Fvnd.example.sig`));
    } finally {
      await server.close();
    }
  });
  test('a referrers list given in pages is followed to its end, on the same registry only', async () => {
    const subjectDigest = sha256('paged subject');
    const page = (n: number) => ({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ mediaType: MediaType.ociManifest, digest: sha256(`referrer ${n}`), size: 3, artifactType: 'application/vnd.example.sig' }],
    });
    const server = await standInRegistry((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (req.method !== 'GET' || url.pathname !== `/v2/team/app/referrers/${subjectDigest}`) return false;
      const n = Number(url.searchParams.get('page') ?? '1');
      const headers: Record<string, string> = { 'content-type': MediaType.ociIndex };
      if (n < 3) headers.link = `</v2/team/app/referrers/${subjectDigest}?page=${n + 1}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify(page(n)));
      return true;
    });
    try {
      const all = await listReferrers(`${server.host}/team/app@${subjectDigest}`, options);
      assert.deepEqual(all.map((d) => d.digest), [1, 2, 3].map((n) => sha256(`referrer ${n}`)));
    } finally {
      await server.close();
    }
    const from = new URL('http://registry.test/v2/a/referrers/x');
    assert.equal(nextPage('<https://elsewhere.test/v2/a/referrers/x?page=2>; rel="next"', from), undefined, 'another host is not followed');
    assert.equal(nextPage('</v2/a/referrers/x?page=2>; rel="prev"', from), undefined);
    assert.equal(nextPage('</v2/a/referrers/x?page=2>; rel=next', from)?.href, 'http://registry.test/v2/a/referrers/x?page=2');
  });
});
