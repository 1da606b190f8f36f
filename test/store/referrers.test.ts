/**
 * Referrers in the store: an artifact written with a subject is found among its subject's referrers,
 * lives as long as its subject under prune, and travels with its image through save and load.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadArchive, saveImages } from '../../src/app/archives.js';
import type { Descriptor } from '../../src/image/types.js';
import { writeArtifact } from '../../src/store/artifacts.js';
import { prune } from '../../src/store/gc.js';
import { openSession } from '../../src/store/session.js';
import type { Store } from '../../src/store/store.js';
import { buildImage, buildIndex, newStore } from '../image/archive-fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const done of cleanups) await done();
});

async function freshStore(prefix: string): Promise<{ store: Store; dir: string }> {
  const made = await newStore(prefix);
  cleanups.push(made.cleanup);
  return made;
}

function subjectOf(image: Descriptor): Descriptor {
  return { mediaType: image.mediaType, digest: image.digest, size: image.size };
}

async function signatureOf(store: Store, subject: Descriptor, text: string): Promise<Descriptor> {
  return writeArtifact(store, {
    artifactType: 'application/vnd.example.signature.v1',
    layers: [{ mediaType: 'application/vnd.example.signature.v1', data: text }],
    subject,
  });
}

async function pruneStore(store: Store): Promise<void> {
  const session = await openSession(store.root, 'exclusive');
  try {
    await prune(session, { keepCache: false, snapshotters: [] });
  } finally {
    await session.release();
  }
}

describe('referrers in the store', () => {
  it('an artifact with a subject is listed among its referrers, and one on it among the artifact’s', async () => {
    const { store } = await freshStore('referrers-list');
    const image = await buildImage(store, { name: 'app:1' });
    const signature = await signatureOf(store, subjectOf(image), 'signed');
    const countersignature = await signatureOf(store, subjectOf(signature), 'countersigned');
    assert.deepEqual((await store.referrers.list(image.digest)).map((d) => [d.digest, d.artifactType]), [[signature.digest, 'application/vnd.example.signature.v1']]);
    assert.deepEqual((await store.referrers.list(signature.digest)).map((d) => d.digest), [countersignature.digest]);
    assert.deepEqual(await store.referrers.list(image.digest, 'application/vnd.example.sbom.v1'), []);
  });

  it('prune keeps referrers (and theirs) while their image lives, and removes them with it', async () => {
    const { store } = await freshStore('referrers-prune');
    const image = await buildImage(store, { name: 'app:1' });
    const signature = await signatureOf(store, subjectOf(image), 'signed');
    const countersignature = await signatureOf(store, subjectOf(signature), 'countersigned');
    await pruneStore(store);
    for (const kept of [image, signature, countersignature]) assert.ok(await store.content.has(kept.digest), `${kept.digest} survives prune`);
    assert.equal((await store.referrers.list(image.digest)).length, 1);

    await store.refs.remove('app:1');
    await pruneStore(store);
    for (const gone of [image, signature, countersignature]) assert.equal(await store.content.has(gone.digest), false, `${gone.digest} is pruned with its image`);
    assert.deepEqual(await store.referrers.subjects(), []);
  });

  it('referrers of an index and of its platform images travel through save and load, in both formats', async () => {
    const { store, dir } = await freshStore('referrers-archive');
    const index = await buildIndex(store, 'multi:1');
    const single = await buildImage(store, { name: 'single:1', marker: 'single' });
    const onIndex = await signatureOf(store, subjectOf(index), 'index signed');
    const onSingle = await signatureOf(store, subjectOf(single), 'single signed');

    await saveImages(store, ['multi:1', 'single:1'], { format: 'oci', output: join(dir, 'both.tar') });
    await saveImages(store, ['single:1'], { format: 'docker', output: join(dir, 'single.docker.tar') });
    for (const [archive, expected] of [
      ['both.tar', [onIndex, onSingle]],
      ['single.docker.tar', [onSingle]],
    ] as const) {
      const { store: target } = await freshStore(`referrers-load-${archive}`);
      const result = await loadArchive(target, join(dir, archive));
      assert.deepEqual(result.images.flatMap((image) => image.names).sort(), archive === 'both.tar' ? ['docker.io/library/multi:1', 'docker.io/library/single:1'] : ['docker.io/library/single:1']);
      for (const referrer of expected) {
        assert.ok(await target.content.has(referrer.digest), `${archive}: referrer ${referrer.digest} loaded`);
      }
      assert.deepEqual((await target.referrers.list(single.digest)).map((d) => d.digest), [onSingle.digest]);
      await pruneStore(target);
      for (const referrer of expected) assert.ok(await target.content.has(referrer.digest), `${archive}: referrer survives prune beside its image`);
    }
  });
});
