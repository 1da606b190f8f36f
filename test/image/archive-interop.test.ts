/**
 * Archives gantry writes, read by skopeo and umoci; archives skopeo and Docker 20.10 write, loaded by gantry.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { loadArchive, saveImages } from '../../src/app/archives.js';
import { MediaType, type ImageConfig, type ImageIndex, type ImageManifest } from '../../src/image/types.js';
import type { Store } from '../../src/store/store.js';
import { sha256, type Digest } from '../../src/util/digest.js';
import { isRoot } from '../helpers/gantry.js';
import { buildImage, buildIndex, layerTarBytes, namedRoots, newStore, run, testConfig } from './archive-fixtures.js';
import { readJsonBlob } from '../helpers/gantry.js';

let source: Store;
let work: string;
let cleanup: () => Promise<void>;
let single: Digest;
let multi: Digest;
let singleManifest: ImageManifest;
let singleConfig: ImageConfig;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  const made = await newStore('archive-interop');
  source = made.store;
  work = made.dir;
  cleanup = made.cleanup;
  single = (await buildImage(source, { name: 'app:1.0' })).digest;
  multi = (await buildIndex(source, 'localhost:5000/team/multi:2')).digest;
  singleManifest = await readJsonBlob<ImageManifest>(source.content, single);
  singleConfig = await readJsonBlob<ImageConfig>(source.content, singleManifest.config.digest);
});

after(async () => {
  await cleanup();
  for (const done of cleanups) await done();
});

async function freshStore(): Promise<Store> {
  const made = await newStore('archive-interop-target');
  cleanups.push(made.cleanup);
  return made.store;
}

async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await run('skopeo', args, { maxBuffer: 16 << 20 });
  return stdout;
}

async function inspect(reference: string): Promise<{ Digest: string; Layers: string[]; Architecture: string; Os: string }> {
  return JSON.parse(await skopeo('inspect', reference)) as { Digest: string; Layers: string[]; Architecture: string; Os: string };
}

/** Checks that an image in `store` has gzip layers whose content matches the config's diff IDs. */
async function assertGzipLayersMatchDiffIds(store: Store, manifestDigest: Digest, expectedDiffIds: string[]): Promise<void> {
  const manifest = await readJsonBlob<ImageManifest>(store.content, manifestDigest);
  const config = await readJsonBlob<ImageConfig>(store.content, manifest.config.digest);
  assert.deepEqual(config.rootfs.diff_ids, expectedDiffIds);
  assert.equal(manifest.layers.length, expectedDiffIds.length);
  for (const [i, layer] of manifest.layers.entries()) {
    assert.equal(layer.mediaType, MediaType.ociLayerGzip);
    const blob = await store.content.readBytes(layer.digest);
    assert.equal(sha256(blob), layer.digest);
    assert.equal(blob.length, layer.size);
    assert.equal(sha256(gunzipSync(blob)), expectedDiffIds[i]);
  }
}

describe('skopeo and umoci read what gantry writes', () => {
  let ociTar: string;
  let ociDir: string;
  let dockerTar: string;

  before(async () => {
    ociTar = join(work, 'app.oci.tar');
    ociDir = join(work, 'layout');
    dockerTar = join(work, 'app.docker.tar');
    await saveImages(source, ['app:1.0'], { format: 'oci', output: ociTar });
    await saveImages(source, ['app:1.0', 'localhost:5000/team/multi:2'], { format: 'oci', output: `${ociDir}/` });
    await saveImages(source, ['app:1.0'], { format: 'docker', output: dockerTar });
  });

  it('skopeo inspect oci-archive:FILE', async () => {
    const info = await inspect(`oci-archive:${ociTar}`);
    assert.equal(info.Digest, single);
    assert.deepEqual(info.Layers, singleManifest.layers.map((layer) => layer.digest));
  });

  it('skopeo inspect oci:DIR:NAME, for a manifest and for an index', async () => {
    assert.equal((await inspect(`oci:${ociDir}:app:1.0`)).Digest, single);
    const raw = JSON.parse(await skopeo('inspect', '--raw', `oci:${ociDir}:localhost:5000/team/multi:2`)) as ImageIndex;
    assert.equal(sha256(JSON.stringify(raw)), multi);
    assert.deepEqual(raw.manifests.map((m) => m.platform?.architecture), ['amd64', 'arm64']);
  });

  it('skopeo inspect docker-archive:FILE', async () => {
    const info = await inspect(`docker-archive:${dockerTar}`);
    assert.deepEqual(info.Layers, singleConfig.rootfs.diff_ids);
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
  });

  it('skopeo copy from each archive into an OCI directory', async () => {
    const target = join(work, 'copied');
    await skopeo('copy', '--quiet', `oci-archive:${ociTar}`, `oci:${target}:from-oci-archive`);
    await skopeo('copy', '--quiet', '--all', `oci:${ociDir}:localhost:5000/team/multi:2`, `oci:${target}:from-oci-dir`);
    await skopeo('copy', '--quiet', `docker-archive:${dockerTar}`, `oci:${target}:from-docker-archive`);
    assert.equal((await inspect(`oci:${target}:from-oci-archive`)).Digest, single);
    const index = JSON.parse(await skopeo('inspect', '--raw', `oci:${target}:from-oci-dir`)) as ImageIndex;
    assert.equal(index.manifests.length, 2);
    const fromDocker = await inspect(`oci:${target}:from-docker-archive`);
    assert.equal(fromDocker.Architecture, 'amd64');
    assert.equal(fromDocker.Layers.length, 2);
  });

  it('umoci unpacks the OCI layout', { skip: isRoot ? false : 'umoci unpack without --rootless needs root' }, async () => {
    const bundle = join(work, 'bundle');
    await run('umoci', ['unpack', '--image', `${ociDir}:app:1.0`, bundle]);
    assert.equal(await readFile(join(bundle, 'rootfs', 'app', 'marker'), 'utf8'), 'linux/amd64\n');
    assert.equal(await readFile(join(bundle, 'rootfs', 'bin', 'hello'), 'utf8'), '#!/bin/sh\necho hello\n');
  });
});

describe('gantry loads what skopeo writes', () => {
  let layout: string;

  before(async () => {
    layout = join(work, 'skopeo-source');
    await saveImages(source, ['app:1.0'], { format: 'oci', output: `${layout}/` });
  });

  it('an OCI directory named with a bare tag', async () => {
    const dir = join(work, 'skopeo-oci-dir');
    await skopeo('copy', '--quiet', `oci:${layout}:app:1.0`, `oci:${dir}:mytag`);
    const target = await freshStore();
    const loaded = await loadArchive(target, dir);
    assert.deepEqual(loaded.warnings, []);
    // skopeo records only "mytag", which reads as an image name the same way the store reads its own index.json.
    assert.deepEqual(await namedRoots(target), [['docker.io/library/mytag:latest', single]]);
  });

  it('an oci-archive with a full name', async () => {
    const file = join(work, 'skopeo.oci.tar');
    await skopeo('copy', '--quiet', `oci:${layout}:app:1.0`, `oci-archive:${file}:example.com/team/app:2`);
    const target = await freshStore();
    await loadArchive(target, file);
    assert.deepEqual(await namedRoots(target), [['example.com/team/app:2', single]]);
  });

  it('a docker-archive with uncompressed layers, compressing them into valid blobs', async () => {
    const file = join(work, 'skopeo.docker.tar');
    await skopeo('copy', '--quiet', `oci:${layout}:app:1.0`, `docker-archive:${file}:app:3`);
    const { stdout } = await run('tar', ['-tvf', file]);
    assert.match(stdout, /^l.* -> \.\.\/[0-9a-f]{64}\.tar$/m, 'skopeo writes legacy layer.tar symlinks');
    const target = await freshStore();
    const loaded = await loadArchive(target, file);
    assert.equal(loaded.format, 'docker');
    const [image] = loaded.images;
    assert.deepEqual(image!.names, ['docker.io/library/app:3']);
    const manifest = await readJsonBlob<ImageManifest>(target.content, image!.descriptor.digest);
    assert.equal(manifest.config.digest, singleManifest.config.digest, 'the config is kept byte for byte');
    await assertGzipLayersMatchDiffIds(target, image!.descriptor.digest, singleConfig.rootfs.diff_ids);
  });
});

describe('gantry loads a Docker 25-style combined archive', () => {
  it('keeps the OCI manifest, merges RepoTags into its names, and reads an image only manifest.json lists', async () => {
    const dir = join(work, 'docker-25');
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    const blob = async (bytes: Buffer): Promise<Digest> => {
      const digest = sha256(bytes);
      await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
      return digest;
    };
    // Docker 25 writes layers uncompressed, named by their diff ID, and records only the tag in ref.name.
    const layer = await layerTarBytes({ 'srv/index.html': '<p>25</p>\n' });
    const layerDigest = await blob(layer);
    const configBytes = Buffer.from(JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [layerDigest])));
    const configDigest = await blob(configBytes);
    const manifestBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBytes.length },
        layers: [{ mediaType: MediaType.ociLayer, digest: layerDigest, size: layer.length }],
      }),
    );
    const manifestDigest = await blob(manifestBytes);
    const entry = { mediaType: MediaType.ociManifest, digest: manifestDigest, size: manifestBytes.length };
    await writeFile(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [{ ...entry, annotations: { 'io.containerd.image.name': 'docker.io/library/web:25', 'org.opencontainers.image.ref.name': '25' } }],
      }),
    );
    await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    // A second image that only manifest.json lists (uncompressed, as 20.10 wrote them).
    const extraLayer = await layerTarBytes({ 'extra.txt': 'extra\n' });
    await writeFile(join(dir, 'extra-layer.tar'), extraLayer);
    const extraConfig = Buffer.from(JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [sha256(extraLayer)])));
    await writeFile(join(dir, 'extra.json'), extraConfig);
    await writeFile(
      join(dir, 'manifest.json'),
      JSON.stringify([
        { Config: `blobs/sha256/${configDigest.slice(7)}`, RepoTags: ['web:25', 'web:latest'], Layers: [`blobs/sha256/${layerDigest.slice(7)}`] },
        { Config: 'extra.json', RepoTags: ['extra:1'], Layers: ['extra-layer.tar'] },
      ]),
    );
    const file = join(work, 'docker-25.tar');
    await run('tar', ['-C', dir, '-cf', file, '.']);

    const target = await freshStore();
    const loaded = await loadArchive(target, file);
    assert.equal(loaded.format, 'oci');
    assert.deepEqual(
      loaded.images.map((image) => image.names),
      [['docker.io/library/web:25', 'docker.io/library/web:latest'], ['docker.io/library/extra:1']],
    );
    assert.equal(loaded.images[0]!.descriptor.digest, manifestDigest, 'the archive manifest is kept as it is');
    const extra = await readJsonBlob<ImageManifest>(target.content, loaded.images[1]!.descriptor.digest);
    assert.equal(extra.config.digest, sha256(extraConfig));
    await assertGzipLayersMatchDiffIds(target, loaded.images[1]!.descriptor.digest, [sha256(extraLayer)]);
  });
});

describe('gantry loads a Docker 20.10-style archive', () => {
  it('with <id>/layer.tar, <hex>.json, uncompressed and xz layers and a repeated layer as a symlink', async () => {
    const dir = join(work, 'docker-2010');
    await mkdir(dir);
    const base = await layerTarBytes({ 'etc/hostname': 'legacy\n' });
    const middle = await layerTarBytes({ 'usr/share/doc/readme': 'from 20.10\n' });
    const diffIds = [sha256(base), sha256(middle), sha256(base)];
    const ids = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)];
    for (const id of ids) {
      await mkdir(join(dir, id));
      await writeFile(join(dir, id, 'VERSION'), '1.0');
      await writeFile(join(dir, id, 'json'), JSON.stringify({ id }));
    }
    await writeFile(join(dir, ids[0]!, 'layer.tar'), base);
    await writeFile(join(dir, 'middle.tar'), middle);
    await run('sh', ['-c', `xz -c ${join(dir, 'middle.tar')} > ${join(dir, ids[1]!, 'layer.tar')} && rm ${join(dir, 'middle.tar')}`]);
    await symlink(`../${ids[0]}/layer.tar`, join(dir, ids[2]!, 'layer.tar'));
    const configBytes = Buffer.from(JSON.stringify(testConfig({ os: 'linux', architecture: 'arm64' }, diffIds)));
    const configHex = sha256(configBytes).slice(7);
    await writeFile(join(dir, `${configHex}.json`), configBytes);
    await writeFile(
      join(dir, 'manifest.json'),
      JSON.stringify([{ Config: `${configHex}.json`, RepoTags: ['legacy:20.10', 'registry.example:5000/legacy:latest'], Layers: ids.map((id) => `${id}/layer.tar`) }]),
    );
    await writeFile(join(dir, 'repositories'), JSON.stringify({ legacy: { '20.10': ids[2] } }));
    const file = join(work, 'docker-2010.tar');
    await run('tar', ['-C', dir, '-cf', file, '.']);

    const target = await freshStore();
    const loaded = await loadArchive(target, file);
    assert.equal(loaded.format, 'docker');
    const [image] = loaded.images;
    assert.deepEqual(image!.names, ['docker.io/library/legacy:20.10', 'registry.example:5000/legacy:latest']);
    assert.deepEqual(image!.descriptor.platform, { os: 'linux', architecture: 'arm64' });
    const manifest = await readJsonBlob<ImageManifest>(target.content, image!.descriptor.digest);
    assert.equal(manifest.mediaType, MediaType.ociManifest);
    assert.equal(manifest.config.digest, `sha256:${configHex}`);
    assert.deepEqual(await target.content.readBytes(manifest.config.digest), configBytes);
    await assertGzipLayersMatchDiffIds(target, image!.descriptor.digest, diffIds);
    assert.equal(manifest.layers[0]!.digest, manifest.layers[2]!.digest, 'the repeated layer is one blob');
    assert.deepEqual((await namedRoots(target)).map(([name]) => name), ['docker.io/library/legacy:20.10', 'registry.example:5000/legacy:latest']);

    // The same archive extracted into a directory loads the same way.
    const again = await freshStore();
    await loadArchive(again, dir);
    assert.deepEqual(await namedRoots(again), await namedRoots(target));
  });
});
