/**
 * A real Docker engine (the one installed, Debian's 20.10 here) loads the docker archives gantry writes,
 * and gantry loads what that engine saves. Runs a private dockerd (vfs storage, no networking) as root.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadArchive, saveImages } from '../../src/app/archives.js';
import type { ImageConfig, ImageManifest } from '../../src/image/types.js';
import type { Store } from '../../src/store/store.js';
import { isRoot } from '../helpers/gantry.js';
import { DockerEngine } from '../helpers/docker-engine.js';
import { buildImage, newStore } from './archive-fixtures.js';
import { readJsonBlob } from '../helpers/gantry.js';

const skip = !isRoot ? 'needs root to run dockerd' : !(await DockerEngine.available()) ? 'dockerd is not installed (scripts/install-deps.sh installs it)' : false;

describe('docker engine', { skip }, () => {
  let store: Store;
  let work: string;
  let cleanup: () => Promise<void>;
  let engine: DockerEngine;
  const docker = (...args: string[]) => engine.docker(...args);

  before(async () => {
    const made = await newStore('archive-docker');
    store = made.store;
    work = made.dir;
    cleanup = made.cleanup;
    engine = new DockerEngine(join(work, 'docker'));
    await engine.start();
  });

  after(async () => {
    await engine?.stop();
    await cleanup();
  });

  it('docker load reads a gantry docker archive; gantry loads what docker save writes', async () => {
    const image = await buildImage(store, { name: 'roundtrip:1' });
    const manifest = await readJsonBlob<ImageManifest>(store.content, image.digest);
    const config = await readJsonBlob<ImageConfig>(store.content, manifest.config.digest);
    const archive = join(work, 'gantry.tar');
    await saveImages(store, ['roundtrip:1'], { format: 'docker', output: archive });

    assert.match(await docker('load', '--input', archive), /Loaded image: roundtrip:1/);
    const inspected = JSON.parse(await docker('image', 'inspect', 'roundtrip:1')) as Array<{ Id: string; RootFS: { Layers: string[] }; Architecture: string }>;
    assert.equal(inspected[0]!.Id, manifest.config.digest, 'the image ID is the config digest');
    assert.deepEqual(inspected[0]!.RootFS.Layers, config.rootfs.diff_ids);

    await docker('tag', 'roundtrip:1', 'example.com/again:2');
    const saved = join(work, 'docker-saved.tar');
    await docker('save', '--output', saved, 'roundtrip:1', 'example.com/again:2');
    const target = await newStore('archive-docker-load');
    try {
      const loaded = await loadArchive(target.store, saved);
      assert.equal(loaded.images.length, 1);
      assert.deepEqual(loaded.images[0]!.names.sort(), ['docker.io/library/roundtrip:1', 'example.com/again:2']);
      const reloaded = await readJsonBlob<ImageManifest>(target.store.content, loaded.images[0]!.descriptor.digest);
      assert.equal(reloaded.config.digest, manifest.config.digest);
      // Docker saves layers uncompressed; gantry stores them compressed with the same diff IDs.
      assert.deepEqual(reloaded.layers.map((layer) => layer.mediaType), manifest.layers.map((layer) => layer.mediaType));
    } finally {
      await target.cleanup();
    }
  });
});
