import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { type LayerEntry, compressLayer, compressLayerToFile, createLayerTar } from '../../src/image/index.js';
import { MediaType } from '../../src/image/types.js';
import { sha256 } from '../../src/util/digest.js';

class Collect extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.chunks.push(chunk);
    done();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function* chunked(data: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

/**
 * Splits a multi-member gzip of `blockSize` blocks at each member boundary: a full block's member ends with
 * ISIZE = blockSize and the next starts with our fixed header (1f 8b 08, no flags, mtime 0).
 */
function splitMembers(gz: Buffer, blockSize: number): Buffer[] {
  const boundary = Buffer.alloc(12);
  boundary.writeUInt32LE(blockSize, 0);
  Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]).copy(boundary, 4);
  const members: Buffer[] = [];
  let start = 0;
  for (let at = gz.indexOf(boundary); at >= 0; at = gz.indexOf(boundary, at + 1)) {
    members.push(gz.subarray(start, at + 4));
    start = at + 4;
  }
  members.push(gz.subarray(start));
  return members;
}

const randomPart = randomBytes(2 * 1024 * 1024);
const mixed = Buffer.concat([randomPart, Buffer.alloc(2 * 1024 * 1024), Buffer.from('text '.repeat(100000))]);

describe('layer compression', () => {
  it('round-trips and reports digests that match independent hashes', async () => {
    const out = new Collect();
    const result = await compressLayer(chunked(mixed, 100_000), out);
    const gz = out.bytes;
    assert.ok(gunzipSync(gz).equals(mixed));
    assert.equal(result.diffId, sha256(mixed));
    assert.equal(result.uncompressedSize, mixed.length);
    assert.equal(result.digest, sha256(gz));
    assert.equal(result.size, gz.length);
    assert.equal(result.mediaType, MediaType.ociLayerGzip);
    assert.ok(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).equals(mixed));
  });

  it('writes one gzip member per block, deterministically', async () => {
    const first = new Collect();
    const result = await compressLayer(chunked(mixed, 77_777), first, { blockSize: 256 * 1024 });
    const expectedBlocks = Math.ceil(mixed.length / (256 * 1024));
    assert.equal(result.blockCount, expectedBlocks);
    const members = splitMembers(first.bytes, 256 * 1024);
    assert.equal(members.length, expectedBlocks);
    assert.ok(Buffer.concat(members.map((member) => gunzipSync(member))).equals(mixed));
    const second = new Collect();
    await compressLayer(chunked(mixed, 1 << 20), second, { blockSize: 256 * 1024, maxBlocksInFlight: 1 });
    assert.ok(first.bytes.equals(second.bytes));
  });

  it('stores incompressible blocks instead of deflating them', async () => {
    const out = new Collect();
    const result = await compressLayer([mixed], out, { blockSize: 512 * 1024 });
    assert.equal(result.storedBlockCount, randomPart.length / (512 * 1024));
    assert.equal(result.blockCount - result.storedBlockCount, Math.ceil((mixed.length - randomPart.length) / (512 * 1024)));
    // Stored random data costs its own size plus framing; the zeros and text shrink to almost nothing.
    assert.ok(result.size > randomPart.length && result.size < randomPart.length * 1.01);
    assert.ok(gunzipSync(out.bytes).equals(mixed));
  });

  it('writes uncompressed layers with digest = diffID', async () => {
    const out = new Collect();
    const result = await compressLayer(chunked(mixed, 65536), out, { compression: 'none' });
    assert.ok(out.bytes.equals(mixed));
    assert.equal(result.digest, result.diffId);
    assert.equal(result.digest, sha256(mixed));
    assert.equal(result.mediaType, MediaType.ociLayer);
  });

  it('gives a valid gzip stream for empty input and refuses bad options', async () => {
    const out = new Collect();
    const result = await compressLayer([], out);
    assert.equal(gunzipSync(out.bytes).length, 0);
    assert.equal(result.diffId, sha256(''));
    await assert.rejects(compressLayer([], new Collect(), { level: 11 }), /invalid gzip level/);
  });

  it('propagates a failing source and leaves no file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-gz-'));
    try {
      async function* failing(): AsyncGenerator<Buffer> {
        yield mixed.subarray(0, 3 << 20);
        throw new Error('source broke');
      }
      await assert.rejects(compressLayerToFile(failing(), join(dir, 'layer.tar.gz')), /source broke/);
      assert.deepEqual(await readdir(dir), []);
      const result = await compressLayerToFile([mixed], join(dir, 'layer.tar.gz'));
      assert.equal(sha256(await readFile(join(dir, 'layer.tar.gz'))), result.digest);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('multi-member gzip layers in Go-based tools', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-oci-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** An OCI layout holding one image whose single layer gantry compressed in 64 KiB members. */
  async function sampleLayout(): Promise<{ layout: string; diffId: string; content: Buffer }> {
    const layout = join(dir, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const content = Buffer.concat([randomBytes(200_000), Buffer.from('layer data\n'.repeat(30_000))]);
    const entries: LayerEntry[] = [
      { path: 'data', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1700000000 },
      { path: 'data/blob.bin', type: 'file', mode: 0o644, uid: 0, gid: 0, size: content.length, mtime: 1700000000, source: { kind: 'buffer', data: content } },
    ];
    const layerPath = join(dir, 'layer.tmp');
    const layer = await compressLayerToFile(createLayerTar(entries), layerPath, { blockSize: 64 * 1024 });
    assert.ok(layer.blockCount > 3);
    await writeFile(join(blobs, layer.digest.slice(7)), await readFile(layerPath));
    const putJson = async (value: unknown) => {
      const bytes = Buffer.from(JSON.stringify(value));
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      await writeFile(join(blobs, digest.slice(7)), bytes);
      return { digest, size: bytes.length };
    };
    const config = await putJson({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.diffId] }, config: {} });
    const manifest = await putJson({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, ...config },
      layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
    });
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(
      join(layout, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ociManifest, ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }),
    );
    return { layout, diffId: layer.diffId, content };
  }

  it('skopeo decompresses the layer to the diffID and umoci unpacks it', async () => {
    const { layout, diffId, content } = await sampleLayout();
    const copied = join(dir, 'copied');
    execFileSync('skopeo', ['copy', '--quiet', '--dest-decompress', `oci:${layout}:latest`, `dir:${copied}`]);
    assert.ok((await readdir(copied)).includes(diffId.slice(7)));
    assert.equal(sha256(await readFile(join(copied, diffId.slice(7)))), diffId);

    const bundle = join(dir, 'bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:latest`, bundle], { stdio: 'pipe' });
    assert.ok((await readFile(join(bundle, 'rootfs', 'data', 'blob.bin'))).equals(content));
  });
});
