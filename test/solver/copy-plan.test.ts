import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChmod, planCopy, type SelectedSource, type SourceEntry } from '../../src/solver/ops/copy-plan.js';

function entry(rel: string, type: SourceEntry['type'] = 'file'): SourceEntry {
  return { rel, hostPath: `/ctx/${rel}`, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 1, mtime: 0 };
}

const file = (path: string): SelectedSource => ({ path, name: path.split('/').pop() as string, isDir: false, preserveOwner: false, entries: [entry('')] });
const dir = (path: string, children: string[]): SelectedSource => ({
  path,
  name: path.split('/').pop() as string,
  isDir: true,
  preserveOwner: false,
  entries: [entry('', 'dir'), ...children.map((c) => entry(c))],
});

const targets = (input: Parameters<typeof planCopy>[0]) => planCopy(input).map((p) => p.target);

test("Docker's destination rules", () => {
  const base = { destIsExistingDir: false, sourceArgCount: 1, instruction: 'COPY' as const };
  assert.deepEqual(targets({ ...base, sources: [file('a.txt')], dest: '/app/b.txt' }), ['/app/b.txt'], 'file to file path');
  assert.deepEqual(targets({ ...base, sources: [file('a.txt')], dest: '/app/' }), ['/app/a.txt'], 'trailing slash: into the directory');
  assert.deepEqual(targets({ ...base, sources: [file('a.txt')], dest: '/app', destIsExistingDir: true }), ['/app/a.txt'], 'existing directory');
  assert.deepEqual(targets({ ...base, sources: [dir('src', ['x.js', 'lib/y.js'])], dest: '/app' }), ['/app', '/app/x.js', '/app/lib/y.js'], 'a directory copies its contents');
  assert.deepEqual(targets({ ...base, sources: [file('a.txt'), file('b.txt')], dest: '/app' }), ['/app/a.txt', '/app/b.txt'], 'a wildcard matching several files');
  assert.throws(() => targets({ ...base, sourceArgCount: 2, sources: [file('a.txt'), file('b.txt')], dest: '/app' }), /destination must be a directory and end with a \//);
});

test('--chmod takes octal and symbolic modes', () => {
  assert.equal(parseChmod('755').octal, 0o755);
  assert.equal(parseChmod('0644').apply(0o600, false), 0o644);
  assert.equal(parseChmod('u+x,go-w').apply(0o666, false), 0o744);
  assert.equal(parseChmod('a+X').apply(0o644, true), 0o755, 'X sets execute on directories');
  assert.equal(parseChmod('a+X').apply(0o644, false), 0o644, '...and not on plain files');
  assert.throws(() => parseChmod('rwx'), /invalid --chmod/);
});
