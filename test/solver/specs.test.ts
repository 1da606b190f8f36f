import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOutputSpec } from '../../src/app/outputs.js';
import { parseCacheSpec } from '../../src/app/cache-transfer.js';
import { imageConfigFor } from '../../src/solver/image-commit.js';
import { stepKey, baseImageKey } from '../../src/solver/cache-key.js';
import { chainIdOf } from '../../src/image/chain-id.js';
import { sha256 } from '../../src/util/digest.js';

test('--output specs', () => {
  assert.deepEqual(parseOutputSpec('out'), { type: 'local', dest: 'out' });
  assert.deepEqual(parseOutputSpec('type=oci,dest=image.tar'), { type: 'oci', dest: 'image.tar' });
  assert.deepEqual(parseOutputSpec('type=image'), { type: 'image' });
  assert.throws(() => parseOutputSpec('type=oci'), /needs dest=PATH/);
  assert.throws(() => parseOutputSpec('type=s3,dest=x'), /type=s3 is not supported/);
  assert.throws(() => parseOutputSpec('type=oci,dest=x,compression=zstd'), /option "compression" is not supported/);
});

test('--cache-to / --cache-from specs', () => {
  const local = parseCacheSpec('type=local,dest=.cache,mode=max', '--cache-to');
  assert.equal(local.type, 'local');
  assert.equal(local.mode, 'max');
  assert.deepEqual(parseCacheSpec('type=registry,ref=localhost:5000/app:cache', '--cache-from'), { type: 'registry', ref: 'localhost:5000/app:cache', mode: 'min' });
  assert.throws(() => parseCacheSpec('type=local', '--cache-from'), /needs src=DIR/);
  assert.throws(() => parseCacheSpec('type=local,dest=x,mode=all', '--cache-to'), /mode=all/);
  assert.throws(() => parseCacheSpec('type=gha', '--cache-to'), /type=gha is not supported/);
});

test('keys depend on every input and on nothing else', () => {
  const parent = baseImageKey(`sha256:${'1'.repeat(64)}`);
  const key = stepKey(parent, { kind: 'run', args: ['sh', '-c', 'make'], env: ['A=1'] });
  assert.equal(stepKey(parent, { env: ['A=1'], args: ['sh', '-c', 'make'], kind: 'run' }), key, 'field order does not matter');
  assert.notEqual(stepKey(parent, { kind: 'run', args: ['sh', '-c', 'make'], env: ['A=2'] }), key);
  assert.notEqual(stepKey(baseImageKey(`sha256:${'2'.repeat(64)}`), { kind: 'run', args: ['sh', '-c', 'make'], env: ['A=1'] }), key);
  assert.notEqual(stepKey(undefined, { kind: 'run', args: ['sh', '-c', 'make'], env: ['A=1'] }), key);
});

test('chain IDs follow the OCI definition', () => {
  const a = sha256('a');
  const b = sha256('b');
  assert.equal(chainIdOf([]), undefined);
  assert.equal(chainIdOf([a]), a);
  assert.equal(chainIdOf([a, b]), sha256(`${a} ${b}`));
});

test('config-only history entries are dated as BuildKit dates them: by the first new layer, then the layer before', () => {
  const config = imageConfigFor({
    platform: { os: 'linux', architecture: 'amd64' },
    config: {},
    layers: [],
    history: [
      { created: '2020-01-01T00:00:00Z', created_by: 'base' },
      { created_by: 'ENV A=1', empty_layer: true },
      { created: '2024-05-05T00:00:00Z', created_by: 'RUN make' },
      { created_by: 'CMD ["x"]', empty_layer: true },
    ],
    created: '2030-01-01T00:00:00Z',
  });
  assert.deepEqual(config.history?.map((h) => h.created), ['2020-01-01T00:00:00Z', '2024-05-05T00:00:00Z', '2024-05-05T00:00:00Z', '2024-05-05T00:00:00Z']);
  assert.equal(config.created, '2024-05-05T00:00:00Z', 'the image is as old as its newest history entry');
});
