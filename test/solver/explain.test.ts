import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainMiss, type MissContext } from '../../src/solver/explain.js';
import type { StepInputs } from '../../src/store/cache-records.js';
import { sha256 } from '../../src/util/digest.js';

function inputs(overrides: Partial<StepInputs> = {}): StepInputs {
  return {
    key: sha256('k1'),
    parentKey: sha256('p1'),
    instruction: 'RUN make',
    platform: 'linux/amd64',
    buildArgs: [['VERSION', '1']],
    env: ['PATH=/bin', 'VERSION=1'],
    fields: { user: '', workdir: '/' },
    ...overrides,
  };
}

function explain(previous: StepInputs | undefined, current: StepInputs, extra: Partial<MissContext> = {}): string {
  return explainMiss({ previous, current, parentMissed: false, explainContent: () => undefined, ...extra });
}

test('the first differing input is named, in the order a user looks for it', () => {
  assert.equal(explain(undefined, inputs()), 'first build of this step');
  assert.equal(explain(inputs(), inputs(), { cacheDisabled: '--no-cache' }), '--no-cache');
  assert.equal(explain(inputs(), inputs({ key: sha256('k2'), buildArgs: [['VERSION', '2']], env: ['PATH=/bin', 'VERSION=2'] })), 'build arg VERSION: 1 → 2');
  assert.equal(explain(inputs(), inputs({ key: sha256('k2'), buildArgs: [['VERSION', '1'], ['EXTRA', 'x']] })), 'build arg EXTRA added (x)');
  assert.equal(explain(inputs(), inputs({ key: sha256('k2'), buildArgs: [] })), 'build arg VERSION removed');
  assert.equal(explain(inputs(), inputs({ key: sha256('k2'), env: ['PATH=/usr/bin', 'VERSION=1'] })), 'env PATH: /bin → /usr/bin');
  assert.equal(explain(inputs(), inputs({ key: sha256('k2'), instruction: 'RUN make all' })), 'instruction changed: RUN make → RUN make all');
  assert.equal(explain(inputs(), inputs({ key: sha256('k2'), fields: { user: 'nobody', workdir: '/' } })), 'user: (none) → nobody');
  assert.equal(explain(inputs(), inputs({ key: sha256('k2'), platform: 'linux/arm64' })), 'platform: linux/amd64 → linux/arm64');
});

test('a changed base image is named with both digests', () => {
  const base = (digest: string) => ({ name: 'docker.io/library/busybox:latest', digest });
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  assert.equal(
    explain(inputs({ base: base(a) }), inputs({ key: sha256('k2'), base: base(b) })),
    `base image docker.io/library/busybox:latest: sha256:${'a'.repeat(12)}… → sha256:${'b'.repeat(12)}…`,
  );
});

test('content changes come from the content explainer; stage content by digest', () => {
  const selection = (summary: string) => ({ kind: 'selection' as const, summary });
  assert.equal(
    explain(inputs({ content: selection('old') }), inputs({ key: sha256('k2'), content: selection('new') }), {
      explainContent: (a, b) => `${String(a)} → ${String(b)}: src/f7.txt content changed`,
    }),
    'old → new: src/f7.txt content changed',
  );
  const digest = (d: string) => ({ kind: 'digest' as const, what: 'stage build', digest: d });
  assert.equal(explain(inputs({ content: digest('x') }), inputs({ key: sha256('k2'), content: digest('y') })), 'content of stage build changed');
});

test('when only the parent differs, the parent is blamed', () => {
  const changed = inputs({ key: sha256('k2'), parentKey: sha256('p2') });
  assert.equal(explain(inputs(), changed, { parentMissed: true }), 'parent step missed');
  assert.equal(explain(inputs(), changed, { parentMissed: false }), 'parent step differs from the last build');
  assert.equal(explain(inputs(), inputs()), 'no cache record for this step (pruned or built elsewhere)');
  assert.equal(explain(inputs(), inputs(), { recordUnusable: 'the cached layer was removed from the store' }), 'the cached layer was removed from the store');
});
