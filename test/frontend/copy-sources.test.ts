import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySource } from '../../src/frontend/copy-sources.js';
import { GantryError } from '../../src/util/errors.js';

test('Git repositories by BuildKit\'s rule: Git schemes, SCP style, and http(s) only with a .git path', () => {
  const cases: Array<[string, ReturnType<typeof classifySource>]> = [
    ['https://github.com/o/r.git', { kind: 'git', url: 'https://github.com/o/r.git' }],
    ['http://example.com/r.git', { kind: 'git', url: 'http://example.com/r.git' }],
    ['HTTPS://example.com/r.git', { kind: 'git', url: 'https://example.com/r.git' }],
    // The path is compared unescaped, as Go's url.URL.Path.
    ['https://example.com/r%2Egit', { kind: 'git', url: 'https://example.com/r%2Egit' }],
    // The two former rules disagreed here: any ssh:// or git:// URL is a repository.
    ['ssh://host/repo', { kind: 'git', url: 'ssh://host/repo' }],
    ['ssh://git@host:2222/org/repo#main', { kind: 'git', url: 'ssh://git@host:2222/org/repo', ref: 'main' }],
    ['git://host/repo', { kind: 'git', url: 'git://host/repo' }],
    ['GIT://host/repo', { kind: 'git', url: 'git://host/repo' }],
    ['git@github.com:org/repo.git', { kind: 'git', url: 'git@github.com:org/repo.git' }],
    ['deploy@git.example.com:repo#v2:docs', { kind: 'git', url: 'deploy@git.example.com:repo', ref: 'v2', subdir: 'docs' }],
  ];
  for (const [src, expected] of cases) assert.deepEqual(classifySource(src), expected, src);
});

test('#ref:subdir and the query options of a Git URL', () => {
  assert.deepEqual(classifySource('https://github.com/o/r.git#v1:sub/dir'), { kind: 'git', url: 'https://github.com/o/r.git', ref: 'v1', subdir: 'sub/dir' });
  assert.deepEqual(classifySource('https://github.com/o/r.git#:../a/./b/'), { kind: 'git', url: 'https://github.com/o/r.git', subdir: 'a/b' });
  assert.deepEqual(classifySource('https://github.com/o/r.git?tag=v1&subdir=docs'), { kind: 'git', url: 'https://github.com/o/r.git', ref: 'refs/tags/v1', subdir: 'docs' });
  assert.deepEqual(classifySource('https://github.com/o/r.git?branch=main'), { kind: 'git', url: 'https://github.com/o/r.git', ref: 'refs/heads/main' });
  assert.deepEqual(classifySource('git@h:r.git?ref=v1#v1'), { kind: 'git', url: 'git@h:r.git', ref: 'v1' });
  const refuses = (src: string, message: RegExp) =>
    assert.throws(() => classifySource(src), (err: unknown) => err instanceof GantryError && message.test(err.message), src);
  refuses('https://github.com/o/r.git?token=x', /^unexpected query "token"$/);
  refuses('https://github.com/o/r.git?ref=', /^query "ref" has no value$/);
  refuses('https://github.com/o/r.git?ref=a&ref=b', /^query "ref" has multiple values$/);
  refuses('https://github.com/o/r.git?ref=b#a', /^ref conflicts: "a" vs "b"$/);
  refuses('https://github.com/o/r.git?tag=v1&branch=main', /^branch conflicts with tag$/);
  refuses('https://github.com/o/r.git?keep-git-dir=maybe', /^invalid keep-git-dir value: "maybe"$/);
  refuses('https://github.com/o/r.git?mtime=now', /^invalid mtime value/);
  // Options BuildKit reads that a plan cannot carry yet name themselves.
  refuses('https://github.com/o/r.git?submodules=false', /submodules= is not supported by gantry yet/);
  refuses('https://github.com/o/r.git?checksum=abc', /checksum= is not supported by gantry yet/);
});

test('URLs: http(s) by a case-sensitive prefix, including what Go cannot parse as a Git URL', () => {
  assert.deepEqual(classifySource('https://example.com/a.tgz'), { kind: 'http', url: 'https://example.com/a.tgz' });
  assert.deepEqual(classifySource('http://example.com/repo.git/'), { kind: 'http', url: 'http://example.com/repo.git/' });
  assert.deepEqual(classifySource('https://example.com/a.tgz#frag'), { kind: 'http', url: 'https://example.com/a.tgz#frag' });
  // url.Parse fails on a malformed escape, so this is no repository, but still a URL to download.
  assert.deepEqual(classifySource('https://example.com/%zz.git'), { kind: 'http', url: 'https://example.com/%zz.git' });
});

test('paths: everything else, including look-alikes BuildKit reads as paths', () => {
  for (const src of ['src/app', '.', '/abs/file', 'github.com/org/repo', './git@host:repo.git', '../r.git', 'ftp://host/file', 'HTTPS://example.com/a.tgz', 'git@host:repo?a;b', 'host:path']) {
    assert.deepEqual(classifySource(src), { kind: 'context', path: src }, src);
  }
  // github.com/... is a path, but its query is still read (and refused) as BuildKit does.
  assert.throws(() => classifySource('github.com/org/repo?x=1'), /unexpected query "x"/);
});

test('--keep-git-dir: carried on Git sources, merged with ?keep-git-dir=, ignored for URLs and paths', () => {
  assert.deepEqual(classifySource('https://github.com/o/r.git', true), { kind: 'git', url: 'https://github.com/o/r.git', keepGitDir: true });
  assert.deepEqual(classifySource('https://github.com/o/r.git?keep-git-dir', undefined), { kind: 'git', url: 'https://github.com/o/r.git', keepGitDir: true });
  assert.deepEqual(classifySource('https://github.com/o/r.git?keep-git-dir=false', false), { kind: 'git', url: 'https://github.com/o/r.git', keepGitDir: false });
  assert.throws(() => classifySource('https://github.com/o/r.git?keep-git-dir=true', false), /^GantryError: inconsistent keep-git-dir configuration$/);
  assert.deepEqual(classifySource('https://example.com/a.tgz', true), { kind: 'http', url: 'https://example.com/a.tgz' });
  assert.deepEqual(classifySource('a.txt', true), { kind: 'context', path: 'a.txt' });
});
