/**
 * Test base images from Debian's busybox-static, made once per machine (a root filesystem tar cached
 * in the temp dir) and imported into each test's store with `gantry import`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { acquireLock } from '../../src/store/lock.js';
import { gantryOk } from './gantry.js';

const run = promisify(execFile);
const cacheDir = join(tmpdir(), 'gantry-test-cache');

/** Path of a tar of the busybox root filesystem for `arch`. */
export async function busyboxRootfsTar(arch: 'amd64' | 'arm64' = 'amd64'): Promise<string> {
  const tarPath = join(cacheDir, `busybox-rootfs-${arch}.tar`);
  if (existsSync(tarPath)) return tarPath;
  await mkdir(cacheDir, { recursive: true });
  const lock = await acquireLock(join(cacheDir, `busybox-${arch}.lock`), 'exclusive');
  try {
    if (existsSync(tarPath)) return tarPath;
    const work = join(cacheDir, `work-${arch}-${process.pid}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    await run('bash', [join(process.cwd(), 'scripts', 'make-busybox-rootfs.sh'), arch, join(work, 'rootfs')]);
    await run('tar', ['--sort=name', '--numeric-owner', '-C', join(work, 'rootfs'), '-cf', join(work, 'rootfs.tar'), '.']);
    await rename(join(work, 'rootfs.tar'), tarPath);
    await rm(work, { recursive: true, force: true });
    return tarPath;
  } finally {
    await lock.release();
  }
}

/** Imports a busybox image named `name` into the store at `root`. */
export async function importBusybox(root: string, name = 'busybox:latest', arch: 'amd64' | 'arm64' = 'amd64'): Promise<void> {
  const tar = await busyboxRootfsTar(arch);
  // A fixed SOURCE_DATE_EPOCH gives every test store the same base image digest, as if pulled from one registry.
  await gantryOk(root, ['import', '--platform', `linux/${arch}`, '--change', 'CMD ["sh"]', tar, name], { env: { SOURCE_DATE_EPOCH: '0' } });
}

/**
 * Imports busybox for amd64 and arm64 and names an image index of both `name` (with
 * `gantry manifest create --local`), as a multi-platform base image pulled from a registry would be stored.
 */
export async function importBusyboxIndex(root: string, name = 'busybox:latest'): Promise<void> {
  await importBusybox(root, 'busybox-amd64:latest', 'amd64');
  await importBusybox(root, 'busybox-arm64:latest', 'arm64');
  await gantryOk(root, ['manifest', 'create', '--local', name, 'busybox-amd64:latest', 'busybox-arm64:latest']);
}
