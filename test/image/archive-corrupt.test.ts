/** Bad archives: each gets a GantryError naming what is wrong, and the store is left exactly as it was. */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadArchive, saveImages } from '../../src/app/archives.js';
import type { ImageManifest } from '../../src/image/types.js';
import type { Store } from '../../src/store/store.js';
import { sha256, type Digest } from '../../src/util/digest.js';
import { GantryError } from '../../src/util/errors.js';
import { buildImage, layerTarBytes, newStore, run, storeState, testConfig } from './archive-fixtures.js';
import { readJsonBlob } from '../helpers/gantry.js';

let source: Store;
let target: Store;
let work: string;
let image: Digest;
let manifest: ImageManifest;
let dockerTar: string;
let ociDir: string;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  const made = await newStore('archive-corrupt');
  cleanups.push(made.cleanup);
  source = made.store;
  work = made.dir;
  image = (await buildImage(source, { name: 'app:1.0' })).digest;
  manifest = await readJsonBlob<ImageManifest>(source.content, image);
  dockerTar = join(work, 'good.docker.tar');
  ociDir = join(work, 'good-layout');
  await saveImages(source, ['app:1.0'], { format: 'docker', output: dockerTar });
  await saveImages(source, ['app:1.0'], { format: 'oci', output: `${ociDir}/` });
  // The target already holds an image, so "unchanged" means more than "still empty".
  const other = await newStore('archive-corrupt-target');
  cleanups.push(other.cleanup);
  target = other.store;
  await buildImage(target, { name: 'existing:1', marker: 'existing' });
});

after(async () => {
  for (const done of cleanups) await done();
});

/** Loads `path` expecting a GantryError matching `pattern`; checks that index.json, the blobs and the temp area are unchanged. */
async function assertLoadFails(path: string, pattern: RegExp): Promise<GantryError> {
  const before = await storeState(target);
  let caught: GantryError | undefined;
  await assert.rejects(loadArchive(target, path), (err: unknown) => {
    assert.ok(err instanceof GantryError, `expected a GantryError, got ${String(err)}`);
    assert.match(err.message, pattern);
    caught = err;
    return true;
  });
  assert.deepEqual(await storeState(target), before);
  assert.deepEqual(await readdir(target.tmpDir), [], 'no staging area or decompressed copy is left');
  return caught!;
}

/** A copy of the good OCI layout to break. */
async function layoutCopy(name: string): Promise<string> {
  const dir = join(work, name);
  await cp(ociDir, dir, { recursive: true });
  return dir;
}

describe('corrupt archives leave the store unchanged', () => {
  it('a tar cut off in the middle of a blob', async () => {
    const file = join(work, 'cut.tar');
    const bytes = await readFile(dockerTar);
    await writeFile(file, bytes.subarray(0, 3000));
    await assertLoadFails(file, /cut\.tar is truncated: unexpected end of stream inside an entry/);
  });

  it('a tar cut off exactly between entries', async () => {
    const file = join(work, 'cut-at-boundary.tar');
    await writeFile(file, await readFile(dockerTar));
    // The end-of-archive marker (two zero blocks) and the first metadata file are gone.
    const { stdout } = await run('tar', ['-tvf', file, '--block-number']);
    const block = Number(/^block (\d+): .* index\.json$/m.exec(stdout)?.[1]);
    assert.ok(block > 0);
    await truncate(file, block * 512);
    await assertLoadFails(file, /cut-at-boundary\.tar is truncated: it ends after \d+ bytes without the end-of-archive marker/);
  });

  it('a gzip-compressed tar cut off', async () => {
    const file = join(work, 'cut.tar.gz');
    const compressed = gzipSync(await readFile(dockerTar));
    await writeFile(file, compressed.subarray(0, compressed.length - 100));
    const err = await assertLoadFails(file, /cut\.tar\.gz: cannot decompress gzip data: unexpected end of file/);
    assert.match(err.hint ?? '', /truncated or corrupt/);
  });

  it('a layer blob whose content does not match its digest', async () => {
    const dir = await layoutCopy('bad-blob');
    const layer = manifest.layers[1]!;
    const path = join(dir, 'blobs', 'sha256', layer.digest.slice(7));
    const bytes = await readFile(path);
    bytes[bytes.length - 5] ^= 0xff;
    await writeFile(path, bytes);
    const err = await assertLoadFails(dir, new RegExp(`blob blobs/sha256/${layer.digest.slice(7)} does not match its digest: expected ${layer.digest}`));
    assert.match(err.hint ?? '', /nothing was loaded/);
  });

  it('a manifest blob whose content does not match its digest', async () => {
    const dir = await layoutCopy('bad-manifest');
    const path = join(dir, 'blobs', 'sha256', image.slice(7));
    await writeFile(path, (await readFile(path, 'utf8')).replace('"schemaVersion":2', '"schemaVersion": 2'));
    await assertLoadFails(dir, new RegExp(`blob blobs/sha256/${image.slice(7)} does not match its digest`));
  });

  it('index.json pointing at a blob that is not there', async () => {
    const dir = await layoutCopy('missing-blob');
    await rm(join(dir, 'blobs', 'sha256', manifest.config.digest.slice(7)));
    await assertLoadFails(dir, new RegExp(`blob ${manifest.config.digest} \\(application/vnd\\.oci\\.image\\.config\\.v1\\+json\\) is missing`));
  });

  it('manifest.json pointing at a layer file that is not in the archive', async () => {
    const dir = join(work, 'missing-layer');
    await mkdir(dir);
    const layer = await layerTarBytes({ 'hello.txt': 'hi\n' });
    const config = Buffer.from(JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [sha256(layer), sha256(layer)])));
    await writeFile(join(dir, 'config.json'), config);
    await writeFile(join(dir, 'one.tar'), layer);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['gone:1'], Layers: ['one.tar', 'two/layer.tar'] }]));
    const file = join(work, 'missing-layer.tar');
    await run('tar', ['-C', dir, '-cf', file, 'manifest.json', 'config.json', 'one.tar']);
    await assertLoadFails(file, /manifest\.json refers to the layer "two\/layer\.tar", which is not in the archive/);
  });

  it('manifest.json pointing at a config that is not in the archive', async () => {
    const dir = join(work, 'missing-config');
    await mkdir(dir);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'abc.json', RepoTags: null, Layers: [] }]));
    await assertLoadFails(dir, /manifest\.json refers to the image config "abc\.json", which is not in the archive/);
  });

  it('an uncompressed layer whose content does not match the diff ID of the config', async () => {
    const dir = join(work, 'wrong-diff-id');
    await mkdir(dir);
    const layer = await layerTarBytes({ 'hello.txt': 'hi\n' });
    const claimed = sha256('something else');
    await writeFile(join(dir, 'config.json'), JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [claimed])));
    await writeFile(join(dir, 'layer.tar'), layer);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['wrong:1'], Layers: ['layer.tar'] }]));
    await assertLoadFails(dir, new RegExp(`the layer layer\\.tar does not match its diff ID in the image config: expected ${claimed}, got ${sha256(layer)}`));
  });

  it('a gzip layer whose content does not match the diff ID of the config', async () => {
    const dir = join(work, 'wrong-gzip-diff-id');
    await mkdir(dir);
    const layer = manifest.layers[0]!;
    const claimed = sha256('not this layer');
    await writeFile(join(dir, 'config.json'), JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [claimed])));
    await writeFile(join(dir, 'layer.tar.gz'), await source.content.readBytes(layer.digest));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['wrong:2'], Layers: ['layer.tar.gz'] }]));
    await assertLoadFails(dir, /the layer layer\.tar\.gz does not match its diff ID in the image config/);
  });

  it('a tar that is neither an OCI layout nor a docker archive', async () => {
    const dir = join(work, 'unknown');
    await mkdir(dir);
    await writeFile(join(dir, 'readme.txt'), 'not an image\n');
    await writeFile(join(dir, 'data.bin'), 'x');
    const file = join(work, 'unknown.tar');
    await run('tar', ['-C', dir, '-cf', file, 'readme.txt', 'data.bin']);
    const err = await assertLoadFails(file, /unknown\.tar is not an image archive of a known format: it has neither index\.json \(OCI image layout\) nor manifest\.json \(docker archive\); it holds data\.bin, readme\.txt/);
    assert.match(err.hint ?? '', /OCI image layouts and docker save archives/);
  });

  it('a file that is not a tar at all', async () => {
    const file = join(work, 'notes.json');
    await writeFile(file, JSON.stringify({ hello: 'world', padding: 'x'.repeat(600) }));
    await assertLoadFails(file, /notes\.json is not a valid tar archive: invalid numeric field/);
  });

  it('a pre-1.10 docker archive (repositories without manifest.json)', async () => {
    const dir = join(work, 'ancient');
    await mkdir(join(dir, 'a'.repeat(64)), { recursive: true });
    await writeFile(join(dir, 'repositories'), '{}');
    await assertLoadFails(dir, /format before Docker 1\.10/);
  });

  it('a manifest.json that is not JSON', async () => {
    const dir = join(work, 'bad-json');
    await mkdir(dir);
    await writeFile(join(dir, 'manifest.json'), '[{"Config": ');
    await assertLoadFails(dir, /manifest\.json is not valid JSON/);
  });

  it('a missing path', async () => {
    await assertLoadFails(join(work, 'nowhere.tar'), /nowhere\.tar: no such file or directory/);
  });

  it('an archive that fails after its first image leaves none of it', async () => {
    // The first image is complete; the second's layer is missing. Nothing of the first may stay either.
    const dir = join(work, 'second-fails');
    await mkdir(dir);
    const good = await layerTarBytes({ 'good.txt': 'good\n' });
    await writeFile(join(dir, 'good.tar'), good);
    await writeFile(join(dir, 'good.json'), JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [sha256(good)])));
    await writeFile(join(dir, 'bad.json'), JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [sha256('absent')])));
    await writeFile(
      join(dir, 'manifest.json'),
      JSON.stringify([
        { Config: 'good.json', RepoTags: ['good:1'], Layers: ['good.tar'] },
        { Config: 'bad.json', RepoTags: ['bad:1'], Layers: ['absent.tar'] },
      ]),
    );
    await assertLoadFails(dir, /refers to the layer "absent\.tar"/);
  });
});
