/**
 * Archives made to attack the loader: digests that are paths, configs that lack what every command
 * reads, documents of unknown types. Each is refused with a clear message, reads nothing outside the
 * archive, and leaves the store as it was.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pack } from 'tar-stream';
import { loadArchive } from '../../src/app/archives.js';
import { MediaType, type Descriptor } from '../../src/image/types.js';
import type { Store } from '../../src/store/store.js';
import { sha256 } from '../../src/util/digest.js';
import { GantryError } from '../../src/util/errors.js';
import { buildImage, layerTarBytes, newStore, storeState, testConfig } from './archive-fixtures.js';

let target: Store;
let work: string;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  const made = await newStore('archive-hostile');
  cleanups.push(made.cleanup);
  target = made.store;
  work = made.dir;
  await buildImage(target, { name: 'existing:1', marker: 'existing' });
});

after(async () => {
  for (const done of cleanups) await done();
});

/** An OCI layout directory holding `blobs` (by their own digest) and an index.json naming `root` as "evil:latest". */
async function layout(name: string, blobs: Array<string | Buffer>, root: Descriptor | Record<string, unknown>): Promise<string> {
  const dir = join(work, name);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const blob of blobs) await writeFile(join(dir, 'blobs', 'sha256', sha256(blob).slice(7)), blob);
  const entry = { ...root, annotations: { 'org.opencontainers.image.ref.name': 'evil:latest' } };
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
  return dir;
}

function manifestBytes(config: Record<string, unknown>, layers: Array<Record<string, unknown>> = [], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers, ...extra }));
}

function descriptorOf(bytes: Buffer, mediaType: string = MediaType.ociManifest): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.length };
}

async function assertRefused(path: string, pattern: RegExp): Promise<void> {
  const before = await storeState(target);
  await assert.rejects(loadArchive(target, path), (err: unknown) => {
    assert.ok(err instanceof GantryError, `expected a GantryError, got ${String(err)}`);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /root:|daemon:/, 'no bytes of a host file in the message');
    return true;
  });
  assert.deepEqual(await storeState(target), before);
  assert.deepEqual(await readdir(target.tmpDir), []);
}

describe('hostile archives are refused and change nothing', () => {
  it('a manifest whose config digest is a path to a host file', async () => {
    const manifest = manifestBytes({ mediaType: MediaType.ociConfig, digest: 'sha256:../../../../../../../../etc/passwd', size: 100 });
    const dir = await layout('config-path', [manifest], descriptorOf(manifest));
    await assertRefused(dir, /config: invalid checksum digest format "sha256:\.\.\/\.\.\//);
  });

  it('index.json naming a manifest by a path', async () => {
    const dir = await layout('index-path', [], { mediaType: MediaType.ociManifest, digest: 'sha256:../../../../etc/shadow', size: 10 });
    await assertRefused(dir, /index\.json entry 1: invalid checksum digest format/);
  });

  it('a layer digest with upper-case hex or the wrong length', async () => {
    for (const digest of [`sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha256:${'a'.repeat(64)}/x`, `md5:${'a'.repeat(32)}`]) {
      const config = Buffer.from(JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [])));
      const manifest = manifestBytes(descriptorOf(config, MediaType.ociConfig) as unknown as Record<string, unknown>, [{ mediaType: MediaType.ociLayerGzip, digest, size: 1 }]);
      const dir = await layout(`layer-${sha256(digest).slice(7, 15)}`, [config, manifest], descriptorOf(manifest));
      await assertRefused(dir, /layer 1: invalid checksum digest format/);
    }
  });

  it('a sha512 digest is named as an unsupported algorithm', async () => {
    const dir = await layout('sha512', [], { mediaType: MediaType.ociManifest, digest: `sha512:${'b'.repeat(128)}`, size: 10 });
    await assertRefused(dir, /digest algorithm sha512 is not supported/);
  });

  it('an image config without rootfs', async () => {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {} }));
    const manifest = manifestBytes(descriptorOf(config, MediaType.ociConfig) as unknown as Record<string, unknown>);
    const dir = await layout('no-rootfs', [config, manifest], descriptorOf(manifest));
    // The OCI path copies blobs as they are; the image is read when it is used — refused at load all the same.
    await assertRefused(dir, /rootfs/);
  });

  it('an image config whose diff IDs are paths', async () => {
    const layer = await layerTarBytes({ 'a.txt': 'a' });
    const dockerDir = join(work, 'docker-diffid');
    await mkdir(dockerDir);
    await writeFile(join(dockerDir, 'layer.tar'), layer);
    await writeFile(join(dockerDir, 'config.json'), JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, ['sha256:../../etc/passwd'])));
    await writeFile(join(dockerDir, 'manifest.json'), JSON.stringify([{ Config: 'config.json', RepoTags: ['evil:1'], Layers: ['layer.tar'] }]));
    await assertRefused(dockerDir, /diff ID 1: invalid checksum digest format/);
  });

  it('a manifest of an unknown media type inside an index', async () => {
    const child = manifestBytes({ mediaType: MediaType.ociConfig, digest: sha256('x'), size: 1 });
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{ mediaType: 'application/x-evil', digest: sha256(child), size: child.length }] }));
    const dir = await layout('unknown-type', [child, index], descriptorOf(index, MediaType.ociIndex));
    await assertRefused(dir, /unsupported manifest media type "application\/x-evil"/);
  });

  it('a document that says it is a manifest but is an index', async () => {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] }));
    const dir = await layout('mislabelled', [index], descriptorOf(index, MediaType.ociManifest));
    await assertRefused(dir, /mediaType "application\/vnd\.oci\.image\.index\.v1\+json" is not an image manifest's/);
  });

  it('a manifest larger than 4 MiB', async () => {
    const manifest = manifestBytes({ mediaType: MediaType.ociConfig, digest: sha256('x'), size: 1 }, [], { annotations: { pad: 'x'.repeat(5 << 20) } });
    const dir = await layout('huge', [manifest], descriptorOf(manifest));
    await assertRefused(dir, /more than the 4194304/);
  });

  it('documents nested deeper than 100 levels, in a manifest, an index.json entry or oci-layout', async () => {
    const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
    const config = Buffer.from(JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [])));
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: descriptorOf(config, MediaType.ociConfig), layers: [], annotations: {} }).replace('"annotations":{}', `"extra":${deep(100_000)}`),
    );
    await assertRefused(await layout('deep-manifest', [config, manifest], descriptorOf(manifest)), /nests more than 100 levels deep/);

    const dir = await layout('deep-index-entry', [], { mediaType: MediaType.ociManifest, digest: sha256('x'), size: 1 });
    const index = (await readFile(join(dir, 'index.json'), 'utf8')).replace('"size":1', `"size":1,"extra":${deep(5000)}`);
    await writeFile(join(dir, 'index.json'), index);
    await assertRefused(dir, /index\.json nests more than 100 levels deep/);

    const version = await layout('deep-layout-version', [], { mediaType: MediaType.ociManifest, digest: sha256('x'), size: 1 });
    await writeFile(join(version, 'oci-layout'), `{"imageLayoutVersion":${deep(100_000)}}`);
    await assertRefused(version, /oci-layout nests more than 100 levels deep/);
    await writeFile(join(version, 'oci-layout'), JSON.stringify({ imageLayoutVersion: 'v'.repeat(17 << 20) }));
    await assertRefused(version, /unsupported OCI layout version "v{80}…"$/);
  });

  it('links and paths megabytes long in a tar archive name nothing, and are dismissed at once', { timeout: 60_000 }, async () => {
    const far = 'a/'.repeat(200_000);
    const tarOf = async (entries: Array<{ name: string; linkname?: string; content?: string }>): Promise<string> => {
      const archive = pack();
      for (const entry of entries) {
        if (entry.linkname !== undefined) archive.entry({ name: entry.name, type: 'symlink', linkname: entry.linkname });
        else archive.entry({ name: entry.name }, entry.content ?? '');
      }
      archive.finalize();
      const chunks: Buffer[] = [];
      for await (const chunk of archive as AsyncIterable<Buffer>) chunks.push(chunk);
      const file = join(work, `far-${sha256(JSON.stringify(entries.map((e) => e.name))).slice(7, 15)}.tar`);
      await writeFile(file, Buffer.concat(chunks));
      return file;
    };
    const layout = await tarOf([{ name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' }, { name: 'index.json', linkname: far }]);
    await assertRefused(layout, /neither index\.json \(OCI image layout\) nor manifest\.json/);
    const layer = await layerTarBytes({ 'a.txt': 'a' });
    const docker = await tarOf([
      { name: 'config.json', content: JSON.stringify(testConfig({ os: 'linux', architecture: 'amd64' }, [sha256(layer)])) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: 'config.json', RepoTags: ['far:1'], Layers: [`${far}layer.tar`] }]) },
    ]);
    await assertRefused(docker, /refers to the layer "(a\/){100}…", which is not in the archive$/);
  });

  it('a manifest that is not JSON does not quote its bytes', async () => {
    const bytes = Buffer.from('root:x:0:0:root:/root:/bin/sh\n');
    const dir = await layout('not-json', [bytes], descriptorOf(bytes));
    await assertRefused(dir, /is not valid JSON$/);
  });
});
