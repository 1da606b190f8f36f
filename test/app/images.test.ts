/** The images use case lists every entry of the store, artifacts among images. */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { listImages } from '../../src/app/images.js';
import { writeArtifact } from '../../src/store/artifacts.js';
import { buildImage, newStore } from '../image/archive-fixtures.js';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const done of cleanups) await done();
});

it('lists a named artifact with its type, beside the images, instead of failing on it', async () => {
  const { store, cleanup } = await newStore('cli-images');
  cleanups.push(cleanup);
  await buildImage(store, { name: 'docker.io/library/app:1' });
  const artifact = await writeArtifact(store, { artifactType: 'application/vnd.example.signature', layers: [{ mediaType: 'text/plain', data: 'signed' }] });
  await store.refs.set('docker.io/library/sig:1', artifact);
  const rows = await listImages({ root: store.root });
  assert.deepEqual(
    rows.map((row) => [row.repository, row.tag, row.platforms]),
    [
      ['app', '1', ['linux/amd64']],
      ['sig', '1', ['application/vnd.example.signature']],
    ],
  );
});
