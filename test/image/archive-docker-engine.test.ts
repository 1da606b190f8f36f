/**
 * A real Docker engine (the one installed, Debian's 20.10 here) loads the docker archives gantry writes,
 * and gantry loads what that engine saves. Runs a private dockerd (vfs storage, no networking) as root.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadArchive, saveImages } from '../../src/image/archive-store.js';
import type { ImageConfig, ImageManifest } from '../../src/image/types.js';
import type { Store } from '../../src/store/store.js';
import { isRoot } from '../helpers/gantry.js';
import { buildImage, newStore, run } from './archive-fixtures.js';

async function hasDockerd(): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v dockerd && command -v docker']);
    return true;
  } catch {
    return false;
  }
}

const skip = !isRoot ? 'needs root to run dockerd' : !(await hasDockerd()) ? 'dockerd is not installed (scripts/install-deps.sh --bench installs it)' : false;

describe('docker engine', { skip }, () => {
  let store: Store;
  let work: string;
  let cleanup: () => Promise<void>;
  let daemon: ChildProcess | undefined;
  let env: NodeJS.ProcessEnv;

  async function docker(...args: string[]): Promise<string> {
    const { stdout } = await run('docker', args, { env, maxBuffer: 16 << 20 });
    return stdout;
  }

  before(async () => {
    const made = await newStore('archive-docker');
    store = made.store;
    work = made.dir;
    cleanup = made.cleanup;
    env = { ...process.env, DOCKER_HOST: `unix://${join(work, 'docker.sock')}` };
    const log = await open(join(work, 'dockerd.log'), 'w');
    daemon = spawn(
      'dockerd',
      [
        '--data-root', join(work, 'docker-data'),
        '--exec-root', join(work, 'docker-exec'),
        '--pidfile', join(work, 'dockerd.pid'),
        '--host', env.DOCKER_HOST!,
        '--storage-driver', 'vfs',
        '--bridge', 'none',
        '--iptables=false',
        '--ip6tables=false',
      ],
      { stdio: ['ignore', log.fd, log.fd] },
    );
    await log.close();
    const exited = new Promise<void>((resolve) => daemon!.once('exit', () => resolve()));
    for (let attempt = 0; ; attempt++) {
      try {
        await docker('version');
        break;
      } catch (err) {
        const gone = await Promise.race([exited.then(() => true), sleep(500).then(() => false)]);
        if (gone || attempt > 120) throw new Error(`dockerd did not start; see ${join(work, 'dockerd.log')}`, { cause: err });
      }
    }
  });

  after(async () => {
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise<void>((resolve) => daemon!.once('exit', () => resolve()));
      daemon.kill('SIGTERM');
      await exited;
    }
    await cleanup();
  });

  it('docker load reads a gantry docker archive; gantry loads what docker save writes', async () => {
    const image = await buildImage(store, { name: 'roundtrip:1' });
    const manifest = await store.content.readJson<ImageManifest>(image.digest);
    const config = await store.content.readJson<ImageConfig>(manifest.config.digest);
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
      const reloaded = await target.store.content.readJson<ImageManifest>(loaded.images[0]!.descriptor.digest);
      assert.equal(reloaded.config.digest, manifest.config.digest);
      // Docker saves layers uncompressed; gantry stores them compressed with the same diff IDs.
      assert.deepEqual(reloaded.layers.map((layer) => layer.mediaType), manifest.layers.map((layer) => layer.mediaType));
    } finally {
      await target.cleanup();
    }
  });
});
