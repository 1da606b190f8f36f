import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { IgnoreMatcher, parseIgnoreFile, selectSources, type Selection, type SelectOptions } from '../../src/context/index.js';
import { GantryError } from '../../src/util/errors.js';
import { countingHasher, makeTree, tempDir, type TreeSpec } from './tree.js';

function ignoring(text: string): IgnoreMatcher {
  return new IgnoreMatcher(undefined, parseIgnoreFile(text));
}

/** Each match as "path: entry entry ...", entries as their paths ('.' for the match itself). */
function layout(selection: Selection): string[] {
  return selection.matches.map((m) => `${m.path}: ${m.entries.map((e) => e.path || '.').join(' ')}`);
}

async function withTree(spec: TreeSpec, run: (root: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await tempDir();
  try {
    await makeTree(dir, spec);
    await run(dir);
  } finally {
    await cleanup();
  }
}

async function selectionError(root: string, sources: string[], options: SelectOptions = {}): Promise<GantryError> {
  try {
    await selectSources(root, sources, options);
  } catch (err) {
    if (err instanceof GantryError) return err;
    throw err;
  }
  assert.fail(`selecting ${JSON.stringify(sources)} did not fail`);
}

const project: TreeSpec = {
  'Dockerfile': 'FROM scratch\n',
  'src/main.ts': 'main',
  'src/util/a.ts': 'a',
  'src/util/b.ts': 'b',
  'docs/README.md': 'readme',
  'docs/guide.md': 'guide',
  'docs/api/index.md': 'api',
  'node_modules/dep/index.js': 'dep',
  'build/out.js': 'out',
  'secret.env': 'TOKEN=1',
};

test('the whole context minus .dockerignore, in tree order', async () => {
  await withTree(project, async (root) => {
    const selection = await selectSources(root, ['.'], { ignore: ignoring('node_modules\nbuild\n*.env\n') });
    assert.deepEqual(layout(selection), [
      '.: . Dockerfile docs docs/README.md docs/api docs/api/index.md docs/guide.md src src/main.ts src/util src/util/a.ts src/util/b.ts',
    ]);
  });
});

test('ignored files are never read and ignored directories without exceptions are never walked', async () => {
  await withTree(project, async (root) => {
    const hasher = countingHasher();
    const selection = await selectSources(root, ['.'], { ignore: ignoring('node_modules\nbuild\n'), hashFile: hasher.hashFile });
    assert.ok(!hasher.reads.some((p) => p.includes('node_modules') || p.includes('build')), hasher.reads.join(' '));
    // root, docs, docs/api, src, src/util: node_modules and build are not entered.
    assert.equal(selection.stats.directoriesRead, 5);
  });
});

test('an exception re-includes a file inside an ignored directory, which then exists with only that file', async () => {
  await withTree(project, async (root) => {
    const selection = await selectSources(root, ['.'], { ignore: ignoring('docs\n!docs/README.md\nnode_modules\nbuild\n*.env\nsrc\n') });
    assert.deepEqual(layout(selection), ['.: . Dockerfile docs docs/README.md']);
    // docs/api holds no exception, so it is not walked.
    assert.equal(selection.stats.directoriesRead, 2);
  });
});

test('an ignored directory whose exceptions match nothing does not exist', async () => {
  await withTree(project, async (root) => {
    const ignore = ignoring('docs\n!docs/CHANGELOG.md\n');
    const selection = await selectSources(root, ['.'], { ignore });
    assert.ok(!layout(selection)[0]?.includes('docs'));
    const error = await selectionError(root, ['docs'], { ignore });
    assert.match(error.message, /"docs" not found in the build context/);
  });
});

test('a wildcard exception makes every ignored directory searched', async () => {
  await withTree(project, async (root) => {
    const selection = await selectSources(root, ['.'], { ignore: ignoring('*\n!**/*.md\n') });
    assert.deepEqual(layout(selection), ['.: . docs docs/README.md docs/api docs/api/index.md docs/guide.md']);
  });
});

test('sources can be files, directories (their contents), and wildcards matched per segment', async () => {
  await withTree(project, async (root) => {
    const selection = await selectSources(root, ['Dockerfile', 'src/util/', 'docs/*.md', 's*/u*/?.ts']);
    assert.deepEqual(layout(selection), [
      'Dockerfile: .',
      'src/util: . a.ts b.ts',
      'docs/README.md: .',
      'docs/guide.md: .',
      'src/util/a.ts: .',
      'src/util/b.ts: .',
    ]);
    assert.deepEqual(selection.matches.map((m) => m.sourceIndex), [0, 1, 2, 2, 3, 3]);
    assert.equal(selection.matches[2]?.name, 'README.md');
  });
});

test('a wildcard does not descend into what it matches, and "*" does not cross "/"', async () => {
  await withTree(project, async (root) => {
    const selection = await selectSources(root, ['*']);
    assert.deepEqual(selection.matches.map((m) => m.path), ['Dockerfile', 'build', 'docs', 'node_modules', 'secret.env', 'src']);
    const error = await selectionError(root, ['*.ts']);
    assert.match(error.message, /^no source files were specified: "\*\.ts" matches nothing in the build context/);
  });
});

test('character classes and escapes in sources follow filepath.Match', async () => {
  await withTree({ 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c', 'star*.txt': 's' }, async (root) => {
    assert.deepEqual((await selectSources(root, ['[ab].txt'])).matches.map((m) => m.path), ['a.txt', 'b.txt']);
    assert.deepEqual((await selectSources(root, ['[^a].txt'])).matches.map((m) => m.path), ['b.txt', 'c.txt']);
    assert.deepEqual((await selectSources(root, ['star\\*.*'])).matches.map((m) => m.path), ['star*.txt']);
    const error = await selectionError(root, ['[a-.txt']);
    assert.match(error.message, /invalid source pattern "\[a-\.txt"/);
  });
});

test('.dockerignore hides paths from wildcards, and the hint says so', async () => {
  await withTree(project, async (root) => {
    const ignore = ignoring('*.env\n');
    const error = await selectionError(root, ['*.env'], { ignore });
    assert.match(error.message, /matches nothing/);
    assert.match(error.hint ?? '', /excluded by \.dockerignore line 1: "\*\.env"/);
    const direct = await selectionError(root, ['secret.env'], { ignore });
    assert.match(direct.message, /"secret\.env" not found in the build context/);
    assert.match(direct.hint ?? '', /add an exception such as "!secret\.env"/);
  });
});

test('a missing source names the pattern and the context, and suggests a near name', async () => {
  await withTree(project, async (root) => {
    const error = await selectionError(root, ['src/Main.ts'], { rootLabel: 'the build context', location: { file: 'Dockerfile', line: 3, column: 6 } });
    assert.equal(error.message, `"src/Main.ts" not found in the build context (${root})`);
    assert.equal(error.hint, 'did you mean "src/main.ts"?');
    assert.equal(error.location?.line, 3);
    const typo = await selectionError(root, ['src/utill/a.ts']);
    assert.equal(typo.hint, 'did you mean "src/util"?');
    const stage = await selectionError(root, ['nothing/here'], { rootLabel: 'stage "builder"' });
    assert.match(stage.message, /not found in stage "builder"/);
  });
});

test('a wildcard that matches nothing selects nothing when allowed, as BuildKit does', async () => {
  await withTree(project, async (root) => {
    const selection = await selectSources(root, ['*.none', 'Dockerfile'], { allowEmptyWildcard: true });
    assert.deepEqual(layout(selection), ['Dockerfile: .']);
    // A plain path must exist regardless.
    await selectionError(root, ['none.txt'], { allowEmptyWildcard: true });
  });
});

test('paths climbing out of the root are clamped to it', async () => {
  await withTree(project, async (root) => {
    const selection = await selectSources(join(root, 'src'), ['../util/a.ts', '../../../main.ts', '/util/b.ts']);
    assert.deepEqual(layout(selection), ['util/a.ts: .', 'main.ts: .', 'util/b.ts: .']);
    const error = await selectionError(join(root, 'src'), ['../docs/README.md']);
    assert.match(error.hint ?? '', /is read as "docs\/README\.md": a source cannot leave the build context/);
  });
});

test('symlinks: a matched link is followed inside the root, links inside directories are recorded as links', async () => {
  await withTree(
    {
      'etc/passwd': 'inside',
      'app/config': 'config',
      'app/abs': { link: '/etc/passwd' },
      'app/up': { link: '../../../etc/passwd' },
      'lib': { link: 'app' },
      'dangling': { link: 'missing' },
    },
    async (root) => {
      const followed = await selectSources(root, ['app/abs', 'app/up', 'lib/config', 'lib']);
      const [abs, up, viaDir, linkDir] = followed.matches;
      // Absolute and climbing targets resolve against the root, never the host.
      assert.equal(abs?.entries[0]?.sourcePath, join(root, 'etc/passwd'));
      assert.equal(abs?.name, 'abs');
      assert.equal(up?.entries[0]?.sourcePath, join(root, 'etc/passwd'));
      assert.equal(viaDir?.entries[0]?.sourcePath, join(root, 'app/config'));
      // A directory reached through a link: its contents, with links kept as links.
      assert.deepEqual(
        linkDir?.entries.map((e) => [e.path, e.type, e.linkTarget]),
        [
          ['', 'directory', undefined],
          ['abs', 'symlink', '/etc/passwd'],
          ['config', 'file', undefined],
          ['up', 'symlink', '../../../etc/passwd'],
        ],
      );
      const dangling = await selectionError(root, ['dangling']);
      assert.match(dangling.hint ?? '', /"dangling" is a symlink whose target does not exist/);
      const wildcard = await selectionError(root, ['dang*']);
      assert.match(wildcard.message, /"dangling" \(matched by "dang\*"\) is a symlink to "missing"/);
    },
  );
});

test('wildcards do not follow links below their fixed prefix', async () => {
  await withTree({ 'real/x.txt': 'x', 'link': { link: 'real' } }, async (root) => {
    // The fixed part before the wildcard is resolved through links...
    assert.deepEqual((await selectSources(root, ['link/*.txt'])).matches.map((m) => m.path), ['real/x.txt']);
    // ...but a wildcard segment does not enter a linked directory.
    assert.deepEqual((await selectSources(root, ['*/x.txt'])).matches.map((m) => m.path), ['real/x.txt']);
  });
});

test('entries carry what the engine needs to copy them', async () => {
  await withTree({ 'bin/run.sh': { content: '#!/bin/sh\n', mode: 0o4755 }, 'bin/lib': { link: 'run.sh' } }, async (root) => {
    const [match] = (await selectSources(root, ['bin'])).matches;
    const [dir, lib, run] = match?.entries ?? [];
    const { mtimeMs } = await stat(join(root, 'bin/run.sh'));
    assert.deepEqual(
      { ...run, digest: undefined },
      {
        path: 'run.sh',
        sourcePath: join(root, 'bin/run.sh'),
        type: 'file',
        mode: 0o4755,
        uid: process.getuid?.(),
        gid: process.getgid?.(),
        size: 10,
        digest: undefined,
        mtime: Math.floor(mtimeMs / 1000),
      },
    );
    assert.match(run?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual([lib?.type, lib?.linkTarget, lib?.size], ['symlink', 'run.sh', 6]);
    assert.equal(dir?.type, 'directory');
    assert.equal(dir?.path, '');
  });
});

test('ownership can be recorded as Docker sends context files: 0:0', async () => {
  await withTree({ 'app/a.txt': 'a', 'app/b/': null }, async (root) => {
    const selection = await selectSources(root, ['app'], { ownership: { uid: 0, gid: 0 } });
    assert.deepEqual(selection.matches[0]?.entries.map((e) => [e.path, e.uid, e.gid]), [['', 0, 0], ['a.txt', 0, 0], ['b', 0, 0]]);
    const other = await selectSources(root, ['app'], { ownership: { uid: 1000, gid: 1000 } });
    assert.notEqual(other.digest, selection.digest);
  });
});

test('FIFOs are entries that are never read; sockets are left out', async () => {
  await withTree({ 'dir/file': 'f' }, async (root) => {
    execFileSync('mkfifo', [join(root, 'dir/pipe')]);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(root, 'dir/socket'), resolve));
    try {
      const hasher = countingHasher();
      const selection = await selectSources(root, ['dir'], { hashFile: hasher.hashFile });
      assert.deepEqual(selection.matches[0]?.entries.map((e) => [e.path, e.type]), [['', 'directory'], ['file', 'file'], ['pipe', 'fifo']]);
      assert.deepEqual(hasher.reads, [join(root, 'dir/file')]);
      const error = await selectionError(root, ['dir/socket']);
      assert.match(error.message, /is a socket/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

test('--exclude applies below each match, with exceptions, and keeps a directory only for what it holds', async () => {
  await withTree(
    {
      'dir1/a.png': '1',
      'dir1/b.txt': '2',
      'dir1/sub/c.png': '3',
      'dir1/sub/d.txt': '4',
      'dir1/cache/x.bin': '5',
      'dir1/cache/keep.bin': '6',
      'top.png': '7',
    },
    async (root) => {
      const hasher = countingHasher();
      const pngs = await selectSources(root, ['dir1', 'top.png'], { exclude: ['*.png', '**/*.png'], hashFile: hasher.hashFile });
      assert.deepEqual(layout(pngs), ['dir1: . b.txt cache cache/keep.bin cache/x.bin sub sub/d.txt', 'top.png: .']);
      // Excluded files are not read (the matched top.png is not excluded).
      assert.deepEqual(hasher.reads.filter((p) => p.endsWith('.png')), [join(root, 'top.png')]);
      // The match itself is never excluded (BuildKit matches --exclude only below each source).
      const all = await selectSources(root, ['dir1'], { exclude: ['*'] });
      assert.deepEqual(layout(all), ['dir1: .']);
      // An exception re-includes a file; its excluded parent comes along.
      const keep = await selectSources(root, ['dir1'], { exclude: ['cache', '!cache/keep.bin', 'sub'] });
      assert.deepEqual(layout(keep), ['dir1: . a.png b.txt cache cache/keep.bin']);
    },
  );
});

test('--parents keeps parent directories, from the root or from a "/./" pivot', async () => {
  await withTree({ 'x/a.txt': 'xa', 'y/a.txt': 'ya', 'x/y/b.txt': 'b', 'x/y/c.md': 'c', 'src/a.txt': 'a', 'src/x/b.txt': 'b', 'src/x/y/c.txt': 'c', 'src/x/d.md': 'd' }, async (root) => {
    const plain = await selectSources(root, ['./x/a.txt', './y/a.txt'], { parents: true });
    assert.deepEqual(layout(plain), ['.: . x x/a.txt', '.: . y y/a.txt']);
    const pivot = await selectSources(root, ['./x/./y/*.txt'], { parents: true });
    assert.deepEqual(layout(pivot), ['x: . y y/b.txt']);
    const globstar = await selectSources(root, ['./src/**/*.txt'], { parents: true });
    assert.deepEqual(layout(globstar), ['.: . src src/a.txt src/x src/x/b.txt src/x/y src/x/y/c.txt']);
    const missing = await selectionError(root, ['x/nope.txt'], { parents: true });
    assert.match(missing.message, /"x\/nope\.txt" not found/);
    const none = await selectionError(root, ['x/*.none'], { parents: true });
    assert.match(none.message, /no source files were specified/);
  });
});

test('--parents does not walk directories its literal pattern cannot reach', async () => {
  await withTree(project, async (root) => {
    const selection = await selectSources(root, ['src/util/a.ts'], { parents: true });
    assert.deepEqual(layout(selection), ['.: . src src/util src/util/a.ts']);
    // root, src, src/util only.
    assert.equal(selection.stats.directoriesRead, 3);
  });
});

test('works on any directory tree, such as a stage root for COPY --from', async () => {
  await withTree({ 'usr/bin/tool': 'bin', 'usr/lib/libx.so': 'lib', 'tmp/junk': 'junk' }, async (root) => {
    const selection = await selectSources(root, ['/usr/bin/tool', '/usr/lib/'], { rootLabel: 'stage "build"' });
    assert.deepEqual(layout(selection), ['usr/bin/tool: .', 'usr/lib: . libx.so']);
  });
});

test('the root must be a directory', async () => {
  await withTree({ 'file.txt': 'x' }, async (root) => {
    const error = await selectionError(join(root, 'file.txt'), ['.']);
    assert.match(error.message, /is not a directory/);
  });
});
