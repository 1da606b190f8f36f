/**
 * login, push, pull and logout from the command line against a registry with Basic auth over TLS
 * (a self-signed certificate, so --insecure-registry is needed); the password never shows.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importBusybox } from '../helpers/base-image.js';
import { gantry, gantryOk, isRoot, tempDir } from '../helpers/gantry.js';
import { htpasswdFile, selfSignedCertificate, startRegistry, type RegistryServer } from '../registry/helpers/registry-server.js';

const PASSWORD = 'correct horse battery staple';
const skip = !isRoot && 'imports an image (needs root to unpack it)';

let registry: RegistryServer;
let root: { path: string; cleanup(): Promise<void> };
let dockerConfig: { path: string; cleanup(): Promise<void> };
let env: NodeJS.ProcessEnv;

before(async () => {
  if (skip) return;
  root = await tempDir('login-root');
  dockerConfig = await tempDir('login-docker-config');
  env = { DOCKER_CONFIG: dockerConfig.path };
  const tls = await selfSignedCertificate(dockerConfig.path, 'registry');
  registry = await startRegistry({ tls, htpasswd: { realm: 'gantry-test', path: await htpasswdFile(dockerConfig.path, { alice: PASSWORD }) } });
  await importBusybox(root.path);
});

after(async () => {
  await registry?.stop();
  await root?.cleanup();
  await dockerConfig?.cleanup();
});

test('login checks the password, stores it, and push/pull use it; logout removes it', { skip }, async () => {
  const insecure = ['--insecure-registry', registry.host];
  const wrong = await gantry(root.path, ['login', '-u', 'alice', '--password-stdin', ...insecure, registry.host], { env, input: 'wrong\n' });
  assert.equal(wrong.code, 1);
  assert.doesNotMatch(wrong.stderr + wrong.stdout, /wrong|correct horse/);

  const untrusted = await gantry(root.path, ['login', '-u', 'alice', '--password-stdin', registry.host], { env, input: `${PASSWORD}\n` });
  assert.equal(untrusted.code, 1);
  assert.match(untrusted.stderr, /--insecure-registry/);

  const ok = await gantryOk(root.path, ['login', '-u', 'alice', '--password-stdin', ...insecure, registry.host], { env, input: `${PASSWORD}\n` });
  assert.match(ok.stdout, /Login Succeeded/);
  const config = JSON.parse(await readFile(join(dockerConfig.path, 'config.json'), 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.ok(config.auths[registry.host]?.auth);

  await gantryOk(root.path, ['tag', 'busybox:latest', `${registry.host}/private/busybox:1`]);
  const pushed = await gantryOk(root.path, ['push', ...insecure, `${registry.host}/private/busybox:1`], { env });
  assert.doesNotMatch(pushed.stdout + pushed.stderr, /correct horse/);
  const other = await tempDir('login-other-root');
  try {
    const pulled = await gantryOk(other.path, ['pull', '-q', ...insecure, `${registry.host}/private/busybox:1`], { env });
    assert.match(pulled.stdout, /^sha256:/);
  } finally {
    await other.cleanup();
  }

  assert.match((await gantryOk(root.path, ['logout', registry.host], { env })).stdout, /Removed login credentials/);
  const denied = await gantry(root.path, ['pull', '-q', ...insecure, `${registry.host}/private/busybox:1`], { env });
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /401|unauthorized|authentication/i);
  assert.doesNotMatch(denied.stderr, /\n\s+at /);
});
