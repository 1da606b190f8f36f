import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { loadArchive, saveImages, writeImageOutput } from '../../src/app/archives.js';
import { Annotation, MediaType, type ImageIndex, type ImageManifest } from '../../src/image/types.js';
import type { Store } from '../../src/store/store.js';
import { GantryError } from '../../src/util/errors.js';
import { pathExists } from '../../src/util/fs.js';
import { buildImage, buildIndex, namedRoots, newStore, run, storeState } from './archive-fixtures.js';
import { readJsonBlob } from '../helpers/gantry.js';

let source: Store;
let work: string;
let cleanup: () => Promise<void>;
let single: string;
let multi: string;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  const made = await newStore('archive-roundtrip');
  source = made.store;
  work = made.dir;
  cleanup = made.cleanup;
  single = (await buildImage(source, { name: 'app:1.0' })).digest;
  multi = (await buildIndex(source, 'localhost:5000/team/multi:2')).digest;
});

after(async () => {
  await cleanup();
  for (const done of cleanups) await done();
});

async function freshStore(): Promise<Store> {
  const made = await newStore('archive-target');
  cleanups.push(made.cleanup);
  return made.store;
}

async function tarJson<T>(archive: string, member: string): Promise<T> {
  const { stdout } = await run('tar', ['-xOf', archive, member], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout) as T;
}

async function tarList(archive: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tf', archive]);
  return stdout.trim().split('\n');
}

describe('docker archives', () => {
  it('round-trips a single-platform image: same manifest digest, name kept', async () => {
    const output = join(work, 'app-docker.tar');
    const saved = await saveImages(source, ['app:1.0'], { format: 'docker', output });
    assert.deepEqual(saved.map((image) => [image.names, image.descriptor.digest]), [[['docker.io/library/app:1.0'], single]]);

    const target = await freshStore();
    const loaded = await loadArchive(target, output);
    assert.equal(loaded.format, 'oci', 'the combined layout is read through its index.json');
    assert.deepEqual(loaded.images.map((image) => [image.names, image.descriptor.digest]), [[['docker.io/library/app:1.0'], single]]);
    assert.deepEqual(await namedRoots(target), [['docker.io/library/app:1.0', single]]);
    assert.equal((await storeState(target)).blobs.length, 4, 'manifest, config and two layers');
  });

  it('writes manifest.json, repositories and an OCI layout, with paths under blobs/', async () => {
    const output = join(work, 'layout-docker.tar');
    await saveImages(source, ['app:1.0'], { format: 'docker', output });
    const manifest = await readJsonBlob<ImageManifest>(source.content, single as `sha256:${string}`);
    const items = await tarJson<Array<{ Config: string; RepoTags: string[]; Layers: string[] }>>(output, 'manifest.json');
    assert.deepEqual(items, [
      {
        Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
        RepoTags: ['app:1.0'],
        Layers: manifest.layers.map((layer) => `blobs/sha256/${layer.digest.slice(7)}`),
      },
    ]);
    const config = await readJsonBlob<{ rootfs: { diff_ids: string[] } }>(source.content, manifest.config.digest);
    assert.deepEqual(await tarJson(output, 'repositories'), { app: { '1.0': config.rootfs.diff_ids[1]!.slice(7) } });
    assert.deepEqual(await tarJson(output, 'oci-layout'), { imageLayoutVersion: '1.0.0' });
    const index = await tarJson<ImageIndex>(output, 'index.json');
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0]!.digest, single);
    assert.deepEqual(index.manifests[0]!.annotations, { [Annotation.imageName]: 'docker.io/library/app:1.0', [Annotation.refName]: 'app:1.0' });
    const names = await tarList(output);
    assert.deepEqual(names.slice(0, 2), ['blobs/', 'blobs/sha256/']);
    assert.deepEqual(names.slice(-4), ['oci-layout', 'manifest.json', 'repositories', 'index.json'], 'metadata after every blob');
  });

  it('writes the same bytes every time for the same image', async () => {
    const first = join(work, 'again-1.tar');
    const second = join(work, 'again-2.tar');
    await saveImages(source, ['app:1.0'], { format: 'docker', output: first });
    await saveImages(source, ['app:1.0'], { format: 'docker', output: second });
    assert.ok((await readFile(first)).equals(await readFile(second)));
  });

  it('lists an image saved under two names once, with both RepoTags', async () => {
    const target = await freshStore();
    await buildImage(target, { name: 'one:1' });
    await buildImage(target, { name: 'two:2' });
    const output = join(work, 'two-names.tar');
    await saveImages(target, ['one:1', 'two:2'], { format: 'docker', output });
    const items = await tarJson<Array<{ RepoTags: string[] }>>(output, 'manifest.json');
    assert.deepEqual(items.map((item) => item.RepoTags), [['one:1', 'two:2']]);
    const loadedInto = await freshStore();
    const loaded = await loadArchive(loadedInto, output);
    assert.deepEqual(loaded.images[0]!.names, ['docker.io/library/one:1', 'docker.io/library/two:2']);
  });

  it('refuses a multi-platform image, naming --platform, and leaves no file', async () => {
    const output = join(work, 'multi-docker.tar');
    await assert.rejects(saveImages(source, ['localhost:5000/team/multi:2'], { format: 'docker', output }), (err: unknown) => {
      assert.ok(err instanceof GantryError);
      assert.match(err.message, /multi-platform image \(linux\/amd64, linux\/arm64\)/);
      assert.match(err.hint ?? '', /--platform/);
      return true;
    });
    assert.deepEqual((await readdir(work)).filter((name) => name.includes('multi-docker')), []);
  });

  it('saves one platform of a multi-platform image with --platform', async () => {
    const output = join(work, 'multi-arm64.tar');
    const index = await readJsonBlob<ImageIndex>(source.content, multi as `sha256:${string}`);
    const arm64 = index.manifests.find((m) => m.platform?.architecture === 'arm64')!;
    const saved = await saveImages(source, ['localhost:5000/team/multi:2'], { format: 'docker', output, platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(saved[0]!.descriptor.digest, arm64.digest);
    const target = await freshStore();
    await loadArchive(target, output);
    assert.deepEqual(await namedRoots(target), [['localhost:5000/team/multi:2', arm64.digest]]);
  });

  it('writes into a pipe given as the output, which stays a pipe (as `docker save -o /dev/stdout`)', async () => {
    const fifo = join(work, 'out.fifo');
    await run('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    reader.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    const exited = new Promise((resolve) => reader.once('close', resolve));
    try {
      await saveImages(source, ['app:1.0'], { format: 'docker', output: fifo });
      assert.ok((await lstat(fifo)).isFIFO(), 'the pipe was replaced by a file');
      await exited;
    } finally {
      reader.kill();
    }
    const copy = join(work, 'from-fifo.tar');
    await writeFile(copy, Buffer.concat(chunks));
    assert.ok((await tarList(copy)).includes('manifest.json'));
  });

  it('is a tar file only: a directory output is refused', async () => {
    const dir = join(work, 'docker-dir');
    await mkdir(dir);
    await assert.rejects(saveImages(source, ['app:1.0'], { format: 'docker', output: dir }), /a docker archive is a tar file/);
  });

  it('loads a gzip-compressed archive (docker save | gzip)', async () => {
    const output = join(work, 'gz-source.tar');
    await saveImages(source, ['app:1.0'], { format: 'docker', output });
    const compressed = join(work, 'app.tar.gz');
    await writeFile(compressed, gzipSync(await readFile(output)));
    const target = await freshStore();
    await loadArchive(target, compressed);
    assert.deepEqual(await namedRoots(target), [['docker.io/library/app:1.0', single]]);
    assert.deepEqual(await readdir(target.tmpDir), [], 'the decompressed copy is removed');
  });
});

describe('OCI layouts', () => {
  it('round-trips a tar with a single-platform image and an index, digests and names kept', async () => {
    const output = join(work, 'both.oci.tar');
    await saveImages(source, ['app:1.0', 'localhost:5000/team/multi:2'], { format: 'oci', output });
    const index = await tarJson<ImageIndex>(output, 'index.json');
    assert.deepEqual(
      index.manifests.map((m) => [m.mediaType, m.annotations?.[Annotation.refName]]),
      [
        [MediaType.ociManifest, 'app:1.0'],
        [MediaType.ociIndex, 'localhost:5000/team/multi:2'],
      ],
    );
    const target = await freshStore();
    const loaded = await loadArchive(target, output);
    assert.equal(loaded.format, 'oci');
    assert.deepEqual(await namedRoots(target), [
      ['docker.io/library/app:1.0', single],
      ['localhost:5000/team/multi:2', multi],
    ]);
    const kept = await readJsonBlob<ImageIndex>(target.content, multi as `sha256:${string}`);
    assert.equal(kept.manifests.length, 2, 'the index keeps both platforms');
    assert.deepEqual((await storeState(target)).blobs, (await storeState(source)).blobs, 'every blob of both images');
  });

  it('writes a directory when the path ends with "/", and adds to it later', async () => {
    const dir = join(work, 'layout-dir');
    await saveImages(source, ['app:1.0'], { format: 'oci', output: `${dir}/` });
    await saveImages(source, ['localhost:5000/team/multi:2'], { format: 'oci', output: dir });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;
    assert.deepEqual(index.manifests.map((m) => m.digest), [single, multi]);
    assert.deepEqual(await readdir(join(dir, 'blobs', 'sha256')), (await storeState(source)).blobs.map((d) => d.slice(7)).sort());
    const target = await freshStore();
    await loadArchive(target, dir);
    assert.deepEqual((await namedRoots(target)).map(([name]) => name), ['docker.io/library/app:1.0', 'localhost:5000/team/multi:2']);
  });

  it('replaces the image a name pointed to when saving into the same directory again', async () => {
    const other = await freshStore();
    const first = await buildImage(other, { name: 'app:1.0', marker: 'first' });
    const dir = join(work, 'replace-dir');
    await saveImages(other, ['app:1.0'], { format: 'oci', output: `${dir}/` });
    const second = await buildImage(other, { name: 'app:1.0', marker: 'second' });
    await saveImages(other, ['app:1.0'], { format: 'oci', output: `${dir}/` });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;
    assert.notEqual(first.digest, second.digest);
    assert.deepEqual(index.manifests.map((m) => m.digest), [second.digest]);
  });

  it('refuses a non-empty directory that is not an OCI layout', async () => {
    const dir = join(work, 'not-a-layout');
    await mkdir(dir);
    await writeFile(join(dir, 'notes.txt'), 'mine\n');
    await assert.rejects(saveImages(source, ['app:1.0'], { format: 'oci', output: dir }), /not empty and not an OCI image layout \(it holds notes\.txt\)/);
    assert.deepEqual(await readdir(dir), ['notes.txt']);
  });

  it('keeps only the chosen platform of an index with --platform', async () => {
    const output = join(work, 'amd64.oci.tar');
    const [saved] = await saveImages(source, ['localhost:5000/team/multi:2'], { format: 'oci', output, platform: { os: 'linux', architecture: 'amd64' } });
    assert.equal(saved!.descriptor.mediaType, MediaType.ociIndex);
    assert.notEqual(saved!.descriptor.digest, multi);
    const target = await freshStore();
    await loadArchive(target, output);
    const index = await readJsonBlob<ImageIndex>(target.content, saved!.descriptor.digest);
    assert.deepEqual(index.manifests.map((m) => m.platform?.architecture), ['amd64']);
  });

  it('refuses --platform that a single-platform image does not have', async () => {
    await assert.rejects(
      saveImages(source, ['app:1.0'], { format: 'oci', output: join(work, 'wrong.tar'), platform: { os: 'linux', architecture: 'arm64' } }),
      /app:1.0 has no image for platform linux\/arm64/,
    );
  });

  it('saves an image named by digest without a name, and loads it untagged', async () => {
    const output = join(work, 'by-digest.tar');
    await saveImages(source, [single], { format: 'oci', output });
    const index = await tarJson<ImageIndex>(output, 'index.json');
    assert.equal(index.manifests[0]!.annotations, undefined);
    const target = await freshStore();
    const loaded = await loadArchive(target, output);
    assert.deepEqual(loaded.images[0]!.names, []);
    assert.deepEqual(await namedRoots(target), [['<none>', single]]);
  });

  it('reports an unknown image name', async () => {
    await assert.rejects(saveImages(source, ['missing:1'], { format: 'oci', output: join(work, 'missing.tar') }), /no such image: missing:1/);
  });

  it('leaves no file when an image cannot be read whole', async () => {
    const broken = await freshStore();
    const image = await buildImage(broken, { name: 'broken:1' });
    const manifest = await readJsonBlob<ImageManifest>(broken.content, image.digest);
    await broken.content.delete(manifest.layers[1]!.digest);
    const dir = join(work, 'broken-out');
    await mkdir(dir);
    await assert.rejects(saveImages(broken, ['broken:1'], { format: 'oci', output: join(dir, 'broken.tar') }), /is not in the store/);
    assert.deepEqual(await readdir(dir), [], 'neither the archive nor its temp file');
    await assert.rejects(saveImages(broken, ['broken:1'], { format: 'oci', output: join(dir, 'layout/') }), /is not in the store/);
    assert.deepEqual(await readdir(dir), [], 'a directory created for the layout is removed');
  });
});

describe('build outputs', () => {
  it('writes type=oci to a directory and type=docker to a file, with the build names', async () => {
    const root = (await source.refs.get('app:1.0'))!;
    const dir = join(work, 'build-oci');
    await writeImageOutput(source, root, { type: 'oci', dest: `${dir}/`, names: ['built:1'] });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as ImageIndex;
    assert.equal(index.manifests[0]!.annotations?.[Annotation.refName], 'built:1');
    const file = join(work, 'build-docker.tar');
    await writeImageOutput(source, root, { type: 'docker', dest: file, names: ['built:1', 'built:latest'] });
    const items = await tarJson<Array<{ RepoTags: string[] }>>(file, 'manifest.json');
    assert.deepEqual(items[0]!.RepoTags, ['built:1', 'built:latest']);
  });

  it('writes an unnamed build as an unnamed image', async () => {
    const root = (await source.refs.get('app:1.0'))!;
    const file = join(work, 'build-unnamed.tar');
    await writeImageOutput(source, root, { type: 'docker', dest: file });
    const items = await tarJson<Array<{ RepoTags: string[] | null }>>(file, 'manifest.json');
    assert.equal(items[0]!.RepoTags, null);
  });

  it('refuses a multi-platform build for type=docker, naming --platform', async () => {
    const root = (await source.refs.get('localhost:5000/team/multi:2'))!;
    const file = join(work, 'build-multi.tar');
    await assert.rejects(writeImageOutput(source, root, { type: 'docker', dest: file, names: ['multi:1'] }), (err: unknown) => {
      assert.ok(err instanceof GantryError);
      assert.match(err.message, /^multi:1 is a multi-platform image/);
      assert.match(err.hint ?? '', /--platform linux\/amd64/);
      return true;
    });
    assert.equal(await pathExists(file), false);
  });
});
