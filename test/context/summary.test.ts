import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { explainSelectionChange, selectSources, SUMMARY_FORMAT, type SelectionSummary, type SelectOptions } from '../../src/context/index.js';
import { makeTree, tempDir, type TreeSpec } from './tree.js';

const spec: TreeSpec = {
  'src/f1.txt': 'one',
  'src/f7.txt': 'seven',
  'src/old.txt': 'old',
  'src/run.sh': { content: 'echo hi\n', mode: 0o644 },
  'lib/x': { link: 'v1' },
  'lib/v1': 'v1',
  'lib/v2': 'v2',
};

/** The explanation after `change`, selecting `sources` before and after. */
async function explain(change: (root: string) => Promise<void>, sources = ['.'], options: SelectOptions = {}): Promise<string | undefined> {
  const { dir, cleanup } = await tempDir();
  try {
    await makeTree(dir, spec);
    const before = await selectSources(dir, sources, options);
    await change(dir);
    const after = await selectSources(dir, sources, options);
    // Summaries are stored as JSON between builds.
    const stored = JSON.parse(JSON.stringify(before.summary)) as SelectionSummary;
    const explanation = explainSelectionChange(stored, after.summary);
    assert.equal(explanation === undefined, before.digest === after.digest, 'an explanation exactly when the digest changed');
    return explanation;
  } finally {
    await cleanup();
  }
}

test('no change, no explanation', async () => {
  assert.equal(await explain(async () => {}), undefined);
});

test('content, mode, link target, removal and additions in plain words', async () => {
  assert.equal(await explain((root) => writeFile(join(root, 'src/f7.txt'), 'SEVEN')), 'src/f7.txt content changed');
  assert.equal(await explain((root) => chmod(join(root, 'src/run.sh'), 0o755)), 'src/run.sh mode changed 0644 → 0755');
  assert.equal(await explain((root) => chmod(join(root, 'src'), 0o700)), 'src/ mode changed 0755 → 0700');
  assert.equal(
    await explain(async (root) => {
      await rm(join(root, 'lib/x'));
      await symlink('v2', join(root, 'lib/x'));
    }),
    'link target of lib/x changed (v1 → v2)',
  );
  assert.equal(await explain((root) => rm(join(root, 'src/old.txt'))), 'src/old.txt removed');
  assert.equal(
    await explain(async (root) => {
      for (const name of ['a.txt', 'b.txt', 'c.txt']) await writeFile(join(root, 'src', name), name);
    }),
    '3 files added under src/',
  );
  assert.equal(await explain((root) => writeFile(join(root, 'src/new.txt'), 'n')), 'src/new.txt added');
  assert.equal(
    await explain(async (root) => {
      await mkdir(join(root, 'src/pkg'));
      await writeFile(join(root, 'src/pkg/a'), 'a');
      await writeFile(join(root, 'src/pkg/b'), 'b');
    }),
    'src/pkg/ added with 2 entries',
  );
  assert.equal(
    await explain(async (root) => {
      await rm(join(root, 'src/f1.txt'));
      await rm(join(root, 'src/f7.txt'));
    }),
    '2 files removed from src/',
  );
  assert.equal(
    await explain(async (root) => {
      await rm(join(root, 'src/f1.txt'));
      await mkdir(join(root, 'src/f1.txt'));
    }),
    'src/f1.txt changed from a file to a directory',
  );
});

test('the first difference by path wins', async () => {
  assert.equal(
    await explain(async (root) => {
      await writeFile(join(root, 'src/f7.txt'), 'SEVEN');
      await writeFile(join(root, 'lib/v2'), 'changed');
      await writeFile(join(root, 'src/a.txt'), 'added');
    }),
    'lib/v2 content changed',
  );
});

test('wildcard sources: a new match is an addition at its path', async () => {
  assert.equal(await explain((root) => writeFile(join(root, 'src/f9.txt'), 'nine'), ['src/f*.txt']), 'src/f9.txt added');
  assert.equal(await explain((root) => writeFile(join(root, 'top.txt'), 'top'), ['src/f*.txt']), undefined);
});

test('owner changes are reported with uid:gid', () => {
  const summary = (uid: number): SelectionSummary => ({
    format: SUMMARY_FORMAT,
    sources: [{ source: '.', digest: `digest-${uid}`, truncated: false, nodes: [['', 'd', 0o755, 0, 0, `root-${uid}`, 1], ['app', 'f', 0o644, uid, uid, 'same', 0]] }],
  });
  assert.equal(explainSelectionChange(summary(0), summary(1000)), 'app owner changed 0:0 → 1000:1000');
});

test('a changed list of sources is explained by source', () => {
  const summary = (...sources: string[]): SelectionSummary => ({
    format: SUMMARY_FORMAT,
    sources: sources.map((source) => ({ source, digest: 'd', truncated: false, nodes: [] })),
  });
  assert.equal(explainSelectionChange(summary('a', 'b'), summary('a', 'c')), 'source 2 changed from "b" to "c"');
  assert.equal(explainSelectionChange(summary('a'), summary('a', 'b')), 'source "b" was added');
  assert.equal(explainSelectionChange(summary('a', 'b'), summary('a')), 'source "b" was removed');
});

test('summaries stay within their limit by folding deep directories, and still explain', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const deep: TreeSpec = {};
    for (let m = 0; m < 10; m++) for (let f = 0; f < 50; f++) deep[`vendor/m${m}/f${f}.js`] = `${m}/${f}`;
    deep['app.js'] = 'app';
    await makeTree(dir, deep);
    const options = { summaryLimit: 20 };
    const before = await selectSources(dir, ['.'], options);
    const [source] = before.summary.sources;
    assert.ok(source && source.nodes.length <= 20 && source.truncated);
    assert.deepEqual(
      source.nodes.map((n) => `${n[0]}:${n[1]}`),
      ['.:d', 'app.js:f', 'vendor:d', ...Array.from({ length: 10 }, (_, m) => `vendor/m${m}:D`)].map((s) => s.replace(/^\.:/, ':')),
    );
    await writeFile(join(dir, 'vendor/m3/f7.js'), 'changed');
    const after = await selectSources(dir, ['.'], options);
    assert.equal(explainSelectionChange(before.summary, after.summary), 'contents of vendor/m3/ changed');
    await writeFile(join(dir, 'vendor/m3/new.js'), 'new');
    const grown = await selectSources(dir, ['.'], options);
    assert.equal(explainSelectionChange(after.summary, grown.summary), 'contents of vendor/m3/ changed (50 → 51 entries)');
    assert.ok(JSON.stringify(grown.summary).length < 4000);
  } finally {
    await cleanup();
  }
});

test('when even the matches do not fit, the first ones are kept and a later change is still reported', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const files: TreeSpec = {};
    for (let i = 0; i < 30; i++) files[`f${String(i).padStart(2, '0')}.txt`] = String(i);
    await makeTree(dir, files);
    const before = await selectSources(dir, ['*.txt'], { summaryLimit: 10 });
    assert.equal(before.summary.sources[0]?.nodes.length, 10);
    await writeFile(join(dir, 'f25.txt'), 'changed');
    const after = await selectSources(dir, ['*.txt'], { summaryLimit: 10 });
    assert.equal(explainSelectionChange(before.summary, after.summary), 'content selected by "*.txt" changed in entries the summary does not keep');
  } finally {
    await cleanup();
  }
});

test('by default a context of thousands of files is summarized file by file, so a miss names the file', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    // The shape of a typical application: 6,000 files in 60 packages (the benchmark's large context).
    const app: TreeSpec = {};
    for (let p = 0; p < 60; p++) for (let f = 0; f < 100; f++) app[`app/pkg${p}/file${f}.js`] = `${p}/${f}`;
    await makeTree(dir, app);
    const before = await selectSources(dir, ['.']);
    assert.equal(before.summary.sources[0]?.truncated, false);
    await writeFile(join(dir, 'app/pkg17/file42.js'), 'changed');
    const after = await selectSources(dir, ['.']);
    const stored = JSON.parse(JSON.stringify(before.summary)) as SelectionSummary;
    assert.equal(explainSelectionChange(stored, after.summary), 'app/pkg17/file42.js content changed');
  } finally {
    await cleanup();
  }
});
