import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGantryConfig } from '../../src/cli/config-file.js';
import { grantedEntitlements } from '../../src/cli/entitlement-flags.js';

const none = { entitlements: [] };

test('--allow takes comma lists and is repeatable; an unknown entitlement is an error', () => {
  assert.deepEqual([...grantedEntitlements(['network.host'], 'default', none)], ['network.host']);
  assert.deepEqual([...grantedEntitlements(['network.host,security.insecure'], 'default', none)].sort(), ['network.host', 'security.insecure']);
  assert.deepEqual([...grantedEntitlements(['security.insecure', ' network.host '], 'default', none)].sort(), ['network.host', 'security.insecure']);
  assert.deepEqual([...grantedEntitlements([], 'default', none)], []);
  assert.throws(() => grantedEntitlements(['network.host,device'], 'default', none), (err: Error & { hint?: string }) => {
    assert.match(err.message, /--allow device: unknown entitlement/);
    assert.match(err.hint ?? '', /network\.host and security\.insecure/);
    return true;
  });
});

test('--network host is itself the grant for network.host; the config file grants too', () => {
  assert.deepEqual([...grantedEntitlements([], 'host', none)], ['network.host']);
  assert.deepEqual([...grantedEntitlements([], 'none', none)], []);
  assert.deepEqual([...grantedEntitlements([], 'default', { entitlements: ['security.insecure'] })], ['security.insecure']);
});

test('the config file: entitlements beside the registry settings; unknown names and bad JSON name the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-config-'));
  try {
    const path = join(dir, 'config.json');
    const env = { GANTRY_CONFIG: path };
    assert.deepEqual(readGantryConfig(env), { path, insecureRegistries: [], registryMirrors: undefined, entitlements: [] }, 'a missing file is an empty config');
    await writeFile(path, JSON.stringify({ insecureRegistries: ['localhost:5000'], entitlements: ['network.host', 'security.insecure'] }));
    const config = readGantryConfig(env);
    assert.deepEqual(config.entitlements, ['network.host', 'security.insecure']);
    assert.deepEqual(config.insecureRegistries, ['localhost:5000']);
    await writeFile(path, JSON.stringify({ entitlements: ['network.host', 'network.everywhere'] }));
    assert.throws(() => readGantryConfig(env), new RegExp(`${path.replace(/[.]/g, '\\.')}: unknown entitlement "network\\.everywhere"`));
    await writeFile(path, JSON.stringify({ entitlements: 'network.host' }));
    assert.throws(() => readGantryConfig(env), /"entitlements" must be a list/);
    await writeFile(path, '{ not json');
    assert.throws(() => readGantryConfig(env), /cannot read the gantry config/);
    assert.equal(readGantryConfig({ XDG_CONFIG_HOME: dir }).path, join(dir, 'gantry', 'config.json'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
