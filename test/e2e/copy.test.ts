/**
 * COPY and ADD with Docker's rules, checked on the built image (unpacked by umoci): wildcards, the
 * directory-contents rule, trailing slashes, several sources, symlinks followed in source paths but
 * copied as links inside directories and never followed out of the context, hardlinks, owners and
 * modes (--chown with names or ids, --chmod octal or symbolic, the directories a copy creates),
 * times, later sources overriding earlier ones, heredocs; ADD of local archives and of URLs.
 * Many cases are BuildKit's own integration tests (frontend/dockerfile/dockerfile_copy_test.go and
 * dockerfile_add_test.go) run through gantry.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { isRoot } from '../helpers/gantry.js';
import { build, busyboxRoot, type TestRoot, umociUnpack, writeTree } from './support.js';

const run = promisify(execFile);

async function meta(path: string): Promise<{ mode: number; uid: number; gid: number; mtime: number }> {
  const st = await lstat(path);
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
}

describe('COPY', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;
  let rootfs: string;
  const at = (path: string) => join(rootfs, path);
  const text = (path: string) => readFile(at(path), 'utf8');

  before(async () => {
    t = await busyboxRoot('e2e-copy');
    const context = await writeTree(join(t.work, 'ctx'), {
      'foo.go': { content: 'foo-contents', mode: 0o600 },
      'bar.go': { content: 'bar-contents', mode: 0o600 },
      'sub': { dir: true, mode: 0o700, mtime: 3_000_000 },
      'sub/dir1': { dir: true, mode: 0o700, mtime: 3_100_000 },
      'sub/dir1/dir2': { dir: true, mode: 0o700 },
      'sub/dir1/dir2/foo': { content: 'foo-contents', mode: 0o600 },
      'files/foo.go': { content: 'foo.go-contents', mode: 0o600 },
      'stamp.txt': { content: 'stamped', mode: 0o640, mtime: 1_000_000 },
      'ctxlink': { symlink: 'sub' },
      'bar': { content: 'bar-contents', mode: 0o600 },
      'foo': { symlink: 'bar' },
      'lnk/lfile': 'lfile-contents',
      'lnk/l0': { symlink: 'subfile' },
      'lnk/subfile': 'subfile-contents',
      'lnk/l1': { symlink: 'second' },
      'lnk/second': { symlink: 'baz' },
      'lnk/baz': 'baz-contents',
      'lnk/outside': { symlink: '../../../../etc/shadow' },
      'hl/a': 'shared',
      'hl/b': { hardlink: 'hl/a' },
      'tree': { dir: true, mode: 0o750, mtime: 2_000_000 },
      'tree/sub': { dir: true, mode: 0o750, mtime: 2_100_000 },
      'tree/sub/inner.txt': 'inner',
      'Dockerfile': [
        'FROM busybox:latest',
        'RUN mkdir -p /existing/sub && chown 33:33 /existing /existing/sub && chmod 700 /existing /existing/sub',
        'COPY *.go /gofiles/',
        'COPY stamp.txt nomatch* /empty-wildcard/',
        'COPY f*.go foo2.go',
        'COPY sub/* /subdest/',
        'COPY sub/*/dir2/foo /subdest2/',
        'COPY sub/*/dir2/foo /subdest3/bar',
        'COPY sub/dir1/ subdest4',
        'COPY sub/dir1/. subdest5',
        'COPY sub/dir1 subdest6',
        'COPY stamp.txt /stamp-named',
        'COPY stamp.txt /existing',
        'COPY stamp.txt foo.go /multi/',
        'COPY ctxlink/dir1/dir2/foo /through-link',
        'COPY foo /followed',
        'COPY lnk/l* /alllinks/',
        'COPY lnk /links-kept/',
        'COPY hl /hardlinks/',
        'COPY tree /existing',
        'COPY --chmod=751 stamp.txt /chmod/new/file',
        'COPY --chmod=go-w,u+x stamp.txt /chmod-symbolic',
        'COPY --chmod=a+X tree /chmod-dir/',
        'COPY --chown=daemon foo.go /owned/daemon.go',
        'COPY --chown=1000:nogroup sub /owned-tree/',
        'COPY --chown=1000:nosuchgroup stamp.txt /owned-unknown-group',
        'COPY --chown=nosuchuser stamp.txt /owned-unknown-user',
        'COPY --chown=4242 stamp.txt /owned-num',
        'COPY foo.go files/foo.go /dup/',
        'COPY files/foo.go dest/foo.go',
        'COPY files/foo.go dest/foo.go',
        'COPY files dest',
        'COPY --parents sub/dir1/dir2/foo files/foo.go /parents/',
        'COPY --parents ./sub/./dir1/dir2/foo /pivot/',
        'COPY --exclude=*.go --exclude=lnk . /excluded/',
        'ENV GREETING=hi',
        'COPY <<EOF /heredoc.txt',
        '$GREETING there',
        'EOF',
        'COPY --chmod=700 <<"EOF" /script.sh',
        '#!/bin/sh',
        'echo $HOME',
        'EOF',
        '',
      ].join('\n'),
    });
    await build(t.root, context, ['-t', 'copy:1']);
    rootfs = await umociUnpack(t.root, 'copy:1', join(t.work, 'bundle'));
  });
  after(() => t?.cleanup());

  it('expands wildcards and copies a directory\'s contents, not the directory (testCopyWildcards)', async () => {
    assert.equal(await text('gofiles/foo.go'), 'foo-contents');
    assert.equal(await text('gofiles/bar.go'), 'bar-contents');
    assert.equal(await text('foo2.go'), 'foo-contents', 'one match and no trailing slash: the destination is the file');
    assert.equal(await text('subdest/dir2/foo'), 'foo-contents');
    assert.equal(await text('subdest2/foo'), 'foo-contents');
    assert.equal(await text('subdest3/bar'), 'foo-contents');
    for (const dest of ['subdest4', 'subdest5', 'subdest6']) assert.equal(await text(`${dest}/dir2/foo`), 'foo-contents', dest);
  });

  it('a wildcard that matches nothing copies nothing, beside sources that match (BuildKit allows empty wildcards)', async () => {
    assert.equal(await text('empty-wildcard/stamp.txt'), 'stamped');
  });

  it('names the destination by the trailing-slash and existing-directory rules', async () => {
    assert.equal(await text('stamp-named'), 'stamped');
    assert.equal(await text('existing/stamp.txt'), 'stamped');
    assert.equal(await text('multi/stamp.txt'), 'stamped');
    assert.equal(await text('multi/foo.go'), 'foo-contents');
  });

  it('creates the destination of a directory copy as mkdir -p does, with the source directory\'s time (testCopyChownExistingDir)', async () => {
    assert.deepEqual(await meta(at('subdest6')), { mode: 0o755, uid: 0, gid: 0, mtime: 3_100_000 });
    assert.deepEqual(await meta(at('subdest6/dir2')), { ...(await meta(at('subdest6/dir2'))), mode: 0o700, uid: 0, gid: 0 });
  });

  it('keeps an existing destination directory\'s owner and mode, and overwrites what the source has below it', async () => {
    assert.deepEqual(await meta(at('existing')), { mode: 0o700, uid: 33, gid: 33, mtime: 2_000_000 });
    assert.deepEqual(await meta(at('existing/sub')), { mode: 0o750, uid: 0, gid: 0, mtime: 2_100_000 });
    assert.equal(await text('existing/sub/inner.txt'), 'inner');
  });

  it('keeps file modes and times; context files become root\'s', async () => {
    assert.deepEqual(await meta(at('stamp-named')), { mode: 0o640, uid: 0, gid: 0, mtime: 1_000_000 });
  });

  it('follows symlinks in source paths and wildcard matches, copies links inside directories as links (testCopySymlinks)', async () => {
    assert.equal(await text('through-link'), 'foo-contents');
    assert.ok((await lstat(at('followed'))).isFile());
    assert.equal(await text('followed'), 'bar-contents');
    assert.equal(await text('alllinks/l0'), 'subfile-contents');
    assert.equal(await text('alllinks/lfile'), 'lfile-contents');
    assert.equal(await text('alllinks/l1'), 'baz-contents');
    assert.equal(await readlink(at('links-kept/l0')), 'subfile');
    assert.equal(await readlink(at('links-kept/outside')), '../../../../etc/shadow', 'a link is copied as written, never resolved on the host');
  });

  it('keeps hardlinks between files of one source', async () => {
    const [a, b] = await Promise.all([stat(at('hardlinks/a')), stat(at('hardlinks/b'))]);
    assert.equal(a.ino, b.ino);
    assert.equal(await text('hardlinks/b'), 'shared');
  });

  it('applies --chmod to the copied files and to the directories it creates (testCopyChmod, testChmodNonOctal)', async () => {
    assert.equal((await meta(at('chmod/new/file'))).mode, 0o751);
    assert.equal((await meta(at('chmod/new'))).mode, 0o751);
    assert.equal((await meta(at('chmod'))).mode, 0o751);
    assert.equal((await meta(at('chmod-symbolic'))).mode, 0o740, 'go-w,u+x on 0640');
    assert.equal((await meta(at('chmod-dir/sub'))).mode, 0o751, 'a+X on a 0750 directory');
    assert.equal((await meta(at('chmod-dir/sub/inner.txt'))).mode, 0o644, 'a+X leaves a file without execute bits alone');
  });

  it('resolves --chown names in the image, a lone uid as its own group, unknown names as BuildKit does (testCopyChown)', async () => {
    assert.deepEqual(await meta(at('owned/daemon.go')), { ...(await meta(at('owned/daemon.go'))), uid: 1, gid: 1 });
    const owned = await meta(at('owned'));
    assert.deepEqual([owned.uid, owned.gid, owned.mode], [1, 1, 0o755], 'created parents belong to the --chown owner');
    for (const path of ['owned-tree', 'owned-tree/dir1', 'owned-tree/dir1/dir2/foo']) {
      const m = await meta(at(path));
      assert.deepEqual([m.uid, m.gid], [1000, 65534], path);
    }
    const numeric = await meta(at('owned-num'));
    assert.deepEqual([numeric.uid, numeric.gid], [4242, 4242]);
    const unknownGroup = await meta(at('owned-unknown-group'));
    assert.deepEqual([unknownGroup.uid, unknownGroup.gid], [1000, 1000], 'BuildKit ignores a group name it cannot find');
    const unknownUser = await meta(at('owned-unknown-user'));
    assert.deepEqual([unknownUser.uid, unknownUser.gid], [0, 0], 'BuildKit gives a user name it cannot find uid 0');
  });

  it('lets later sources and later COPYs override earlier ones (testCopyOverrideFiles)', async () => {
    assert.equal(await text('dup/foo.go'), 'foo.go-contents');
    assert.equal(await text('dest/foo.go'), 'foo.go-contents');
  });

  it('keeps source parents with --parents (up to a /./ pivot) and leaves out --exclude matches', async () => {
    assert.equal(await text('parents/sub/dir1/dir2/foo'), 'foo-contents');
    assert.equal(await text('parents/files/foo.go'), 'foo.go-contents');
    assert.equal(await text('pivot/dir1/dir2/foo'), 'foo-contents');
    await assert.rejects(lstat(at('pivot/sub')));
    assert.equal(await text('excluded/stamp.txt'), 'stamped');
    assert.equal(await text('excluded/sub/dir1/dir2/foo'), 'foo-contents');
    await assert.rejects(lstat(at('excluded/foo.go')));
    assert.equal(await text('excluded/files/foo.go'), 'foo.go-contents', '*.go matches at the top only, as in .dockerignore');
    await assert.rejects(lstat(at('excluded/lnk')));
  });

  it('writes heredoc sources, expanded unless the delimiter is quoted', async () => {
    assert.equal(await text('heredoc.txt'), 'hi there\n');
    assert.equal((await meta(at('heredoc.txt'))).mode, 0o644);
    assert.equal(await text('script.sh'), '#!/bin/sh\necho $HOME\n');
    assert.equal((await meta(at('script.sh'))).mode, 0o700);
  });
});

describe('ADD', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;
  let rootfs: string;
  let server: Server;
  let requests: string[];
  const served = 'served over http\n';
  const lastModified = new Date('2020-02-03T04:05:06Z');
  const at = (path: string) => join(rootfs, path);
  const text = (path: string) => readFile(at(path), 'utf8');

  before(async () => {
    t = await busyboxRoot('e2e-add');
    requests = [];
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/files/served.txt' || req.url === '/checked/served.txt') {
        res.writeHead(200, { 'content-type': 'text/plain', 'last-modified': lastModified.toUTCString() });
        res.end(served);
      } else if (req.url === '/files/arc.tar.gz') {
        res.writeHead(200, { 'content-type': 'application/gzip' });
        void readFile(join(t.work, 'ctx', 'arc.tar.gz')).then((bytes) => res.end(bytes));
      } else if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('no name, no date\n');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const checksum = `sha256:${createHash('sha256').update(served).digest('hex')}`;

    const archive = await writeTree(join(t.work, 'archive'), {
      'etc/dnf/dnf.conf': { content: 'content0', mode: 0o600, mtime: 1_500_000 },
      'data/one': 'one',
      'data/same': { hardlink: 'data/one' },
      'data/link': { symlink: 'one' },
    });
    const context = join(t.work, 'ctx');
    await writeTree(context, {
      'notatar.gz': '',
      'Dockerfile': [
        'FROM busybox:latest',
        'RUN mkdir /run && ln -s /run /var/run',
        'ADD arc.tar.gz /x-gz/',
        'ADD arc.tar.bz2 /x-bz2',
        'ADD arc.tar.xz /x-xz/',
        'ADD arc.tar /var/run/through/',
        'ADD notatar.gz /x-plain/',
        'ADD --unpack=false arc.tar.gz /x-kept/',
        'COPY arc.tar.gz /x-copy/',
        'ADD --chown=100:200 arc.tar /x-chown/',
        'ADD *.tar /x-wild',
        `ADD ${base}/files/served.txt /url/`,
        `ADD --checksum=${checksum} ${base}/checked/served.txt /checked.txt`,
        `ADD --chmod=755 ${base}/files/served.txt /url-mode`,
        `ADD ${base}/ /unnamed/`,
        `ADD ${base}/files/arc.tar.gz /url-archive/`,
        `ADD --unpack=true ${base}/files/arc.tar.gz /url-unpacked/`,
        '',
      ].join('\n'),
    });
    const tar = (...args: string[]) => run('tar', ['--owner=1000', '--group=1000', '--numeric-owner', '-C', archive, ...args, 'etc', 'data']);
    await tar('-czf', join(context, 'arc.tar.gz'));
    await tar('-cjf', join(context, 'arc.tar.bz2'));
    await tar('-cJf', join(context, 'arc.tar.xz'));
    await tar('-cf', join(context, 'arc.tar'));
    await run('sh', ['-c', `printf 'not a tar' | gzip > ${join(context, 'notatar.gz')}`]);
    await build(t.root, context, ['-t', 'add:1']);
    rootfs = await umociUnpack(t.root, 'add:1', join(t.work, 'bundle'));
  });
  after(async () => {
    server?.close();
    await t?.cleanup();
  });

  it('extracts local tar, tar.gz, tar.bz2 and tar.xz archives, keeping owners, modes, times, links', async () => {
    for (const dest of ['x-gz', 'x-bz2', 'x-xz']) {
      assert.equal(await text(`${dest}/etc/dnf/dnf.conf`), 'content0', dest);
      assert.deepEqual(await meta(at(`${dest}/etc/dnf/dnf.conf`)), { mode: 0o600, uid: 1000, gid: 1000, mtime: 1_500_000 });
      assert.equal(await readlink(at(`${dest}/data/link`)), 'one');
      const [one, same] = await Promise.all([stat(at(`${dest}/data/one`)), stat(at(`${dest}/data/same`))]);
      assert.equal(one.ino, same.ino, `${dest}: hardlinks in the archive stay hardlinks`);
    }
  });

  it('extracts through a symlink in the image, inside the image (testDockerfileAddArchiveThroughAbsoluteSymlink)', async () => {
    assert.equal(await text('run/through/etc/dnf/dnf.conf'), 'content0');
  });

  it('copies files that are not tar archives, and archives with --unpack=false or COPY, as they are', async () => {
    assert.ok((await stat(at('x-plain/notatar.gz'))).isFile());
    assert.ok((await stat(at('x-kept/arc.tar.gz'))).isFile());
    assert.ok((await stat(at('x-copy/arc.tar.gz'))).isFile());
  });

  it('applies --chown to extracted entries and to the directories it creates (testDockerfileAddChownArchive)', async () => {
    for (const path of ['x-chown', 'x-chown/etc', 'x-chown/etc/dnf/dnf.conf']) {
      const m = await meta(at(path));
      assert.deepEqual([m.uid, m.gid], [100, 200], path);
    }
  });

  it('extracts every archive a wildcard matches into the destination (testDockerfileAddArchiveWildcard)', async () => {
    assert.equal(await text('x-wild/etc/dnf/dnf.conf'), 'content0');
  });

  it('downloads URLs: mode 0600, the Last-Modified time, --checksum verified, --chmod applied', async () => {
    assert.equal(await text('url/served.txt'), served);
    assert.deepEqual(await meta(at('url/served.txt')), { mode: 0o600, uid: 0, gid: 0, mtime: lastModified.getTime() / 1000 });
    assert.equal(await text('checked.txt'), served);
    assert.equal((await meta(at('url-mode'))).mode, 0o755);
    assert.ok(requests.includes('/checked/served.txt'));
  });

  it('keeps a downloaded archive as a file, and extracts it with --unpack=true (BuildKit)', async () => {
    assert.ok((await stat(at('url-archive/arc.tar.gz'))).isFile());
    assert.equal(await text('url-unpacked/etc/dnf/dnf.conf'), 'content0');
  });

  it('names a download without a file name __unnamed__ and dates it 1970 without Last-Modified (testDockerfileADDFromURL)', async () => {
    assert.equal(await text('unnamed/__unnamed__'), 'no name, no date\n');
    assert.equal((await meta(at('unnamed/__unnamed__'))).mtime, 0);
  });
});
