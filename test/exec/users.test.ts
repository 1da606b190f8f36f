/** User lookup in an image's /etc/passwd and /etc/group, including images that make those files traps. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { resolveOwner, resolveUser } from '../../src/exec/users.js';
import { GantryError } from '../../src/util/errors.js';
import { isRoot, tempDir } from '../helpers/gantry.js';

const run = promisify(execFile);
let work: { path: string; cleanup(): Promise<void> };

before(async () => {
  work = await tempDir('users');
});
after(async () => work.cleanup());

async function rootfs(name: string, passwd?: string): Promise<string> {
  const root = join(work.path, name);
  await mkdir(join(root, 'etc'), { recursive: true });
  if (passwd !== undefined) await writeFile(join(root, 'etc', 'passwd'), passwd);
  return root;
}

describe('resolveUser', () => {
  it('finds a named user and its groups', async () => {
    const root = await rootfs('plain', 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    await writeFile(join(root, 'etc', 'group'), 'app:x:1000:\nextra:x:2000:app\n');
    assert.deepEqual(await resolveUser(root, 'app'), { uid: 1000, gid: 1000, additionalGids: [1000, 2000], home: '/home/app' });
  });

  it('reads the image’s file through an absolute symbolic link, never the host’s', async () => {
    const root = await rootfs('link');
    await writeFile(join(root, 'etc', 'real-passwd'), 'app:x:4242:4242::/:/bin/sh\n');
    await symlink('/etc/real-passwd', join(root, 'etc', 'passwd'));
    assert.equal((await resolveUser(root, 'app')).uid, 4242);
    // The host has a root user; the image's file has none, so a named lookup of root fails.
    await assert.rejects(resolveUser(root, 'root'), /unable to find user root/);
  });

  it('refuses a FIFO instead of waiting on it forever', async () => {
    const root = await rootfs('fifo');
    await run('mkfifo', [join(root, 'etc', 'passwd')]);
    await assert.rejects(resolveUser(root, 'app'), (err: unknown) => {
      assert.ok(err instanceof GantryError);
      assert.match(err.message, /\/etc\/passwd in the image is a FIFO/);
      return true;
    });
  });

  it('refuses a device node instead of reading it', { skip: !isRoot && 'mknod needs root' }, async () => {
    const root = await rootfs('device');
    await run('mknod', [join(root, 'etc', 'passwd'), 'c', '1', '5']);
    await assert.rejects(resolveUser(root, 'app'), /\/etc\/passwd in the image is a device node/);
    await assert.rejects(resolveOwner(root, 'app'), /\/etc\/passwd in the image is a device node/);
  });

  it('refuses a file larger than any real passwd file', async () => {
    const root = await rootfs('huge', `app:x:1:1::/:/bin/sh\n${'#'.repeat(5 << 20)}\n`);
    await assert.rejects(resolveUser(root, 'app'), /\/etc\/passwd in the image is \d+ bytes, more than the 4194304 gantry reads/);
  });

  it('treats a missing file as an empty one', async () => {
    const root = await rootfs('empty');
    assert.deepEqual(await resolveUser(root, '1234:5678'), { uid: 1234, gid: 5678, additionalGids: [5678], home: '/' });
  });
});
