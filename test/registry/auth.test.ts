/**
 * Authentication against real registries: htpasswd Basic auth over TLS with a self-signed
 * certificate, and token auth with a token server in the test issuing ES256 JWTs the registry
 * verifies. Logins are saved in a Docker config (file or credential helper). Every password and token
 * is then looked for in everything gantry said and stored: none may appear.
 */
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { closeRegistrySession, login, logout, type RegistryOptions, type RegistryProgressEvent } from '../../src/registry/index.js';
import { pullImage, pushImage } from '../../src/app/registry-use-cases.js';
import type { Store } from '../../src/store/store.js';
import { formatGantryError, isGantryError } from '../../src/util/errors.js';
import { tempStores, writeImage } from './helpers/images.js';
import { htpasswdFile, selfSignedCertificate, startRegistry, type RegistryServer } from './helpers/registry-server.js';
import { startTokenServer, type TokenServer } from './helpers/token-server.js';

const BASIC_PASSWORD = 'basic-Secret-4471';
const TOKEN_PASSWORD = 'token-Secret-9313';

const stores = tempStores();
const said: string[] = [];
const optionSets: RegistryOptions[] = [];
const storesUsed: Store[] = [];
/** Tokens and refresh tokens the token server issued. */
let issuedTokens: string[] = [];

function options(configDir: string, extra: RegistryOptions = {}): RegistryOptions {
  const result: RegistryOptions = {
    dockerConfigDir: configDir,
    retry: { attempts: 3, baseDelayMs: 5 },
    onProgress: (event: RegistryProgressEvent) => said.push(JSON.stringify(event)),
    ...extra,
  };
  optionSets.push(result);
  return result;
}

/** Records an expected failure's whole text (message, hint, causes) and returns it. */
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const parts: string[] = [];
    let current: unknown = err;
    while (current instanceof Error) {
      parts.push(isGantryError(current) ? formatGantryError(current) : current.message);
      current = current.cause;
    }
    const text = parts.join('\n');
    said.push(text);
    return text;
  }
  throw new Error('expected a failure');
}

async function storeWithImage(name: string): Promise<Store> {
  const store = await stores.open();
  storesUsed.push(store);
  await store.refs.set(name, await writeImage(store, { layers: [{ [`${name.replace(/[:/]/g, '-')}.txt`]: name }] }));
  return store;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('Basic auth over TLS with a self-signed certificate', () => {
  let registry: RegistryServer;
  let host: string;

  before(async () => {
    const dir = await stores.dir();
    const tls = await selfSignedCertificate(dir, 'registry');
    registry = await startRegistry({ tls, htpasswd: { realm: 'gantry-test', path: await htpasswdFile(dir, { alice: BASIC_PASSWORD }) } });
    host = registry.host;
  });
  after(async () => {
    await registry?.stop();
  });

  test('a self-signed registry is refused unless marked insecure', async () => {
    const text = await failure(login(host, 'alice', BASIC_PASSWORD, options(await stores.dir())));
    assert.match(text, /certificate verification failed/);
    assert.match(text, new RegExp(`--insecure-registry ${host}`));
  });

  test('a wrong password is refused and nothing is saved', async () => {
    const configDir = await stores.dir();
    const text = await failure(login(host, 'alice', 'wrong-password', options(configDir, { insecureRegistries: [host] })));
    assert.match(text, /incorrect username or password/);
    await assert.rejects(stat(join(configDir, 'config.json')), { code: 'ENOENT' });
  });

  test('login saves base64 credentials in config.json (0600); push and pull use them; logout forgets them', async () => {
    const configDir = await stores.dir();
    const opts = options(configDir, { insecureRegistries: [host] });
    const store = await storeWithImage('basic:1');
    const anonymous = await failure(pushImage(store, 'basic:1', `${host}/team/basic:1`, options(await stores.dir(), { insecureRegistries: [host] })));
    assert.match(anonymous, /authentication required/);
    assert.match(anonymous, new RegExp(`gantry login ${host}`));

    await writeFile(join(configDir, 'config.json'), JSON.stringify({ auths: {}, detachKeys: 'ctrl-x' }));
    const result = await login(host, 'alice', BASIC_PASSWORD, opts);
    assert.equal(result.registry, host);
    assert.equal(result.storedIn, join(configDir, 'config.json'));
    const file = join(configDir, 'config.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const config = JSON.parse(await readFile(file, 'utf8')) as { auths: Record<string, { auth: string }>; detachKeys: string };
    assert.equal(config.detachKeys, 'ctrl-x', 'other settings are kept');
    assert.equal(Buffer.from(config.auths[host].auth, 'base64').toString(), `alice:${BASIC_PASSWORD}`);

    const pushed = await pushImage(store, 'basic:1', `${host}/team/basic:1`, opts);
    const other = await stores.open();
    storesUsed.push(other);
    const pulled = await pullImage(other, `${host}/team/basic:1`, opts);
    assert.equal(pulled.descriptor.digest, pushed.descriptor.digest);

    assert.equal(await logout(host, opts), true);
    assert.equal(await logout(host, opts), false);
    const after = JSON.parse(await readFile(file, 'utf8')) as { auths: Record<string, unknown> };
    assert.deepEqual(after.auths, {});
  });

  test('credentials in a credential helper are used, stored and erased through it', async () => {
    const configDir = await stores.dir();
    const bin = await stores.dir();
    const vault = join(bin, 'vault.json');
    const helper = join(bin, 'docker-credential-gantrytest');
    await writeFile(
      helper,
      `#!${process.execPath}
const fs = require('node:fs');
const vault = ${JSON.stringify(vault)};
const input = fs.readFileSync(0, 'utf8');
const data = fs.existsSync(vault) ? JSON.parse(fs.readFileSync(vault, 'utf8')) : {};
const action = process.argv[2];
if (action === 'store') { const c = JSON.parse(input); data[c.ServerURL] = c; fs.writeFileSync(vault, JSON.stringify(data)); }
else if (action === 'get') { const c = data[input.trim()]; if (!c) { process.stdout.write('credentials not found in native keychain'); process.exit(1); } process.stdout.write(JSON.stringify(c)); }
else if (action === 'erase') { if (!data[input.trim()]) { process.stdout.write('credentials not found in native keychain'); process.exit(1); } delete data[input.trim()]; fs.writeFileSync(vault, JSON.stringify(data)); }
`,
    );
    await chmod(helper, 0o755);
    await writeFile(join(configDir, 'config.json'), JSON.stringify({ credHelpers: { [host]: 'gantrytest' } }));
    const opts = options(configDir, { insecureRegistries: [host], env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });

    const result = await login(host, 'alice', BASIC_PASSWORD, opts);
    assert.equal(result.storedIn, 'credential helper docker-credential-gantrytest');
    const stored = JSON.parse(await readFile(vault, 'utf8')) as Record<string, { Username: string; Secret: string }>;
    assert.deepEqual(stored[host], { ServerURL: host, Username: 'alice', Secret: BASIC_PASSWORD });
    assert.doesNotMatch(await readFile(join(configDir, 'config.json'), 'utf8'), /auths/);

    const store = await storeWithImage('helper:1');
    await pushImage(store, 'helper:1', `${host}/team/helper:1`, opts);
    assert.equal(await logout(host, opts), true);
    assert.deepEqual(JSON.parse(await readFile(vault, 'utf8')), {});
  });
});

describe('token auth with ES256 JWTs', () => {
  let registry: RegistryServer;
  let tokens: TokenServer;
  let host: string;

  before(async () => {
    const dir = await stores.dir();
    const signing = await selfSignedCertificate(dir, 'token-signing');
    tokens = await startTokenServer({
      keyPath: signing.key,
      certificatePath: signing.certificate,
      service: 'gantry-test-registry',
      issuer: 'gantry-test-issuer',
      users: { bob: TOKEN_PASSWORD },
      allow: (user, repository, action) => user !== undefined || (repository.startsWith('public/') && action === 'pull'),
    });
    issuedTokens = tokens.issued;
    registry = await startRegistry({
      token: { realm: tokens.realm, service: 'gantry-test-registry', issuer: 'gantry-test-issuer', rootCertBundle: signing.certificate },
    });
    host = registry.host;
  });
  after(async () => {
    await registry?.stop();
    await tokens?.close();
  });

  test('login stores the refresh token; pushes trade it for access tokens; anonymous users may only pull public repositories', async () => {
    const configDir = await stores.dir();
    const opts = options(configDir);
    assert.match(await failure(login(host, 'bob', 'wrong', opts)), /incorrect username or password/);
    const result = await login(host, 'bob', TOKEN_PASSWORD, opts);
    assert.equal(result.identityToken, true);
    const config = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string; identitytoken?: string }> };
    assert.ok(config.auths[host].identitytoken, 'an identity token is saved');
    assert.doesNotMatch(Buffer.from(config.auths[host].auth, 'base64').toString(), new RegExp(TOKEN_PASSWORD), 'not the password');

    tokens.requests.length = 0;
    const store = await storeWithImage('public:1');
    await pushImage(store, 'public:1', `${host}/public/app:1`, opts);
    assert.ok(tokens.requests.length > 0 && tokens.requests.every((r) => r.method === 'POST' && r.grantType === 'refresh_token'));
    // One token per scope set, reused for every blob and manifest of the push.
    assert.equal(tokens.requests.length, new Set(tokens.requests.map((r) => r.scopes.join(' '))).size);

    const anonymous = options(await stores.dir());
    const other = await stores.open();
    storesUsed.push(other);
    await pullImage(other, `${host}/public/app:1`, anonymous);
    const refused = await failure(pushImage(store, 'public:1', `${host}/public/app:2`, anonymous));
    assert.match(refused, /authentication required/);
    assert.match(refused, /gantry login/);
  });

  test('a cross-repository mount asks for both repositories in one token request', async () => {
    const configDir = await stores.dir();
    const opts = options(configDir);
    await login(host, 'bob', TOKEN_PASSWORD, opts);
    const store = await storeWithImage('mount:1');
    await pushImage(store, 'mount:1', `${host}/team/source:1`, opts);
    tokens.requests.length = 0;
    await pushImage(store, 'mount:1', `${host}/team/target:1`, { ...opts, mountFrom: ['team/source'] });
    assert.ok(
      tokens.requests.some((r) => r.scopes.includes('repository:team/target:pull,push') && r.scopes.includes('repository:team/source:pull')),
      JSON.stringify(tokens.requests),
    );
  });

  test('expired tokens are renewed; access_token answers are accepted', async () => {
    const opts = options(await stores.dir());
    await login(host, 'bob', TOKEN_PASSWORD, opts);
    const store = await storeWithImage('expiry:1');
    tokens.options.expiresIn = 1;
    tokens.options.tokenField = 'access_token';
    try {
      await pushImage(store, 'expiry:1', `${host}/team/expiry:1`, opts);
      const scope = 'repository:team/expiry:pull,push';
      const before = tokens.requests.filter((r) => r.scopes.join(' ') === scope).length;
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await pushImage(store, 'expiry:1', `${host}/team/expiry:1`, opts);
      assert.equal(tokens.requests.filter((r) => r.scopes.join(' ') === scope).length, before + 1);
    } finally {
      tokens.options.expiresIn = undefined;
      tokens.options.tokenField = undefined;
    }
  });

  test('a registry that refuses fresh tokens gets one re-authentication, then an error', async () => {
    const opts = options(await stores.dir());
    await login(host, 'bob', TOKEN_PASSWORD, opts);
    const store = await storeWithImage('refused:1');
    tokens.options.untrusted = true;
    try {
      tokens.requests.length = 0;
      const text = await failure(pushImage(store, 'refused:1', `${host}/team/refused:1`, opts));
      assert.match(text, /authentication required \(HTTP 401\)/);
      assert.equal(tokens.requests.length, 2, 'the first token and one renewal');
    } finally {
      tokens.options.untrusted = false;
    }
  });
});

describe('secrets', () => {
  test('no password or token appears in anything gantry reported or stored', async () => {
    for (const options of optionSets) await closeRegistrySession(options);
    assert.ok(issuedTokens.length > 0);
    const secrets = [BASIC_PASSWORD, TOKEN_PASSWORD, Buffer.from(`alice:${BASIC_PASSWORD}`).toString('base64'), ...issuedTokens];
    assert.ok(said.length > 10, 'progress and errors were recorded');
    for (const text of said) for (const secret of secrets) assert.ok(!text.includes(secret), `a secret appeared in: ${text.slice(0, 200)}`);
    for (const store of storesUsed) {
      for (const file of await filesUnder(store.root)) {
        const content = await readFile(file, 'latin1');
        for (const secret of secrets) assert.ok(!content.includes(secret), `a secret is stored in ${file}`);
      }
    }
  });
});

after(async () => {
  for (const options of optionSets) await closeRegistrySession(options);
  await stores.cleanup();
});
