import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, chmod, link, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LayerEntry } from '../../src/image/index.js';
import { overlayUpperEntries, treeDiffEntries, unpackLayer } from '../../src/snapshot/layer-codec.js';
import { GantryError } from '../../src/util/errors.js';
import { describeTree, tarOf } from './tree.js';

const isRoot = process.getuid?.() === 0;
const needsRoot = isRoot ? {} : { skip: 'needs root: overlay mounts and trusted.* xattrs' };

async function collect(entries: AsyncIterable<LayerEntry>): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for await (const item of entries) out.push(item);
  return out;
}

const summary = (entries: LayerEntry[]) => entries.map((e) => `${e.type === 'hardlink' ? `link ${e.path}->${e.linkTarget}` : `${e.type} ${e.path}`}`);

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'gantry-diff-'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

const cap = '0x0100000200200000000000000000000000000000';

/** The lower tree both differs start from. */
async function buildLower(lower: string): Promise<void> {
  for (const dir of ['a', 'd', 'gone-dir/deep', 'replaced-dir', 'untouched']) await mkdir(join(lower, dir), { recursive: true });
  for (const file of ['a/keep', 'a/old', 'd/x', 'd/y', 'gone-dir/deep/f', 'replaced-dir/f', 'replaced-file', 'untouched/u', 'same-size']) {
    await writeFile(join(lower, file), `content of ${file}\n`);
  }
  await writeFile(join(lower, 'hl1'), 'linked');
  await link(join(lower, 'hl1'), join(lower, 'hl2'));
  await symlink('a/keep', join(lower, 'sym'));
  execFileSync('setfattr', ['-n', 'user.x', '-v', 'before', join(lower, 'untouched/u')]);
}

describe('overlayUpperEntries', () => {
  it('turns an overlay upperdir into Docker-style layer entries', needsRoot, async () => {
    const dir = join(base, 'overlay');
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((name) => join(dir, name)) as [string, string, string, string];
    for (const path of [lower, upper, work, merged]) await mkdir(path, { recursive: true });
    await buildLower(lower);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    let mergedTree;
    try {
      await appendFile(join(merged, 'a/keep'), 'more\n');
      await chmod(join(merged, 'a/keep'), 0o600);
      await unlink(join(merged, 'a/old'));
      await rm(join(merged, 'd'), { recursive: true });
      await mkdir(join(merged, 'd'));
      await writeFile(join(merged, 'd/z'), 'fresh');
      await rm(join(merged, 'gone-dir'), { recursive: true });
      await mkdir(join(merged, 'new/bin'), { recursive: true });
      await writeFile(join(merged, 'new/bin/tool'), 'tool');
      await link(join(merged, 'new/bin/tool'), join(merged, 'new/bin/tool-alias'));
      execFileSync('setfattr', ['-n', 'security.capability', '-v', cap, join(merged, 'new/bin/tool')]);
      execFileSync('setfattr', ['-n', 'user.y', '-v', 'set', join(merged, 'untouched/u')]);
      mergedTree = await describeTree(merged);
    } finally {
      execFileSync('umount', [merged]);
    }

    const entries = await collect(overlayUpperEntries(upper));
    // Sorted by the upperdir's names: a whiteout sits where the name it hides would.
    assert.deepEqual(summary(entries), [
      'dir a',
      'file a/keep',
      'file a/.wh.old',
      'dir d',
      'file d/.wh..wh..opq',
      'file d/z',
      'file .wh.gone-dir',
      'dir new',
      'dir new/bin',
      'file new/bin/tool',
      'link new/bin/tool-alias->new/bin/tool',
      'dir untouched',
      'file untouched/u',
    ]);
    for (const item of entries) {
      for (const name of item.xattrs?.keys() ?? []) assert.ok(!name.startsWith('trusted.overlay.'), `${item.path} carries ${name}`);
    }
    const tool = entries.find((e) => e.path === 'new/bin/tool')!;
    assert.equal(Buffer.from(tool.xattrs?.get('security.capability') ?? []).toString('hex'), cap.slice(2));
    assert.equal(entries.find((e) => e.path === 'untouched/u')!.xattrs?.get('user.y')?.toString(), 'set');
    assert.equal(entries.find((e) => e.path === 'a/keep')!.mode, 0o600);
    const whiteout = entries.find((e) => e.path === 'a/.wh.old')!;
    assert.deepEqual([whiteout.mode, whiteout.uid, whiteout.size, whiteout.mtime], [0, 0, 0, 0]);

    // Applied as a new overlay lower layer, the layer reproduces the merged view exactly.
    const tar = await tarOf(entries);
    const layerDir = join(dir, 'layer');
    await mkdir(layerDir);
    await unpackLayer([tar], layerDir, { mode: 'overlay' });
    const view = join(dir, 'view');
    await mkdir(view);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${layerDir}:${lower}`, view]);
    try {
      assert.deepEqual(await describeTree(view), mergedTree);
    } finally {
      execFileSync('umount', [view]);
    }
    // Applied onto a copy of the lower tree (copy snapshotter), it gives the same tree too.
    const copy = join(dir, 'copy');
    execFileSync('cp', ['-a', lower, copy]);
    await unpackLayer([tar], copy, { mode: 'merged' });
    assert.deepEqual(await describeTree(copy), mergedTree);
  });

  it('refuses an upperdir that relies on redirect_dir', needsRoot, async () => {
    const upper = join(base, 'redirect');
    await mkdir(join(upper, 'moved'), { recursive: true });
    execFileSync('setfattr', ['-n', 'trusted.overlay.redirect', '-v', '/orig', join(upper, 'moved')]);
    await assert.rejects(collect(overlayUpperEntries(upper)), (err: unknown) => err instanceof GantryError && /redirect_dir/.test(err.message));
  });
});

describe('treeDiffEntries', () => {
  async function prepare(name: string): Promise<{ lower: string; upper: string; copiedAtNs: bigint }> {
    const lower = join(base, name, 'lower');
    const upper = join(base, name, 'upper');
    await mkdir(lower, { recursive: true });
    await buildLower(lower);
    execFileSync('cp', ['-a', lower, upper]);
    const copiedAtNs = BigInt(Date.now()) * 1_000_000n;
    // Same size, mtime put back: only the content tells.
    await writeFile(join(upper, 'same-size'), 'CONTENT OF SAME-SIZE\n');
    execFileSync('touch', ['-r', join(lower, 'same-size'), join(upper, 'same-size')]);
    await unlink(join(upper, 'a/old'));
    await rm(join(upper, 'gone-dir'), { recursive: true });
    await rm(join(upper, 'replaced-dir'), { recursive: true });
    await writeFile(join(upper, 'replaced-dir'), 'now a file');
    await unlink(join(upper, 'replaced-file'));
    await mkdir(join(upper, 'replaced-file'));
    await writeFile(join(upper, 'replaced-file/child'), 'child');
    await chmod(join(upper, 'd/x'), 0o700);
    await unlink(join(upper, 'sym'));
    await symlink('a/elsewhere', join(upper, 'sym'));
    execFileSync('setfattr', ['-n', 'user.x', '-v', 'after', join(upper, 'untouched/u')]);
    await writeFile(join(upper, 'hl2'), 'LINKED');
    await mkdir(join(upper, 'new'));
    await writeFile(join(upper, 'new/file'), 'new');
    return { lower, upper, copiedAtNs };
  }

  const expected = [
    'dir a',
    'file a/.wh.old',
    'dir d',
    'file d/x',
    'file .wh.gone-dir',
    'file hl1',
    'link hl2->hl1',
    'dir new',
    'file new/file',
    'file replaced-dir',
    'dir replaced-file',
    'file replaced-file/child',
    'file same-size',
    'symlink sym',
    'dir untouched',
    'file untouched/u',
  ];

  for (const withCopyTime of [false, true]) {
    it(`compares content, metadata, links and xattrs${withCopyTime ? ' (with the copy time)' : ''}`, async () => {
      const { lower, upper, copiedAtNs } = await prepare(withCopyTime ? 'tree-timed' : 'tree');
      const entries = await collect(treeDiffEntries(lower, upper, withCopyTime ? { copiedAtNs } : {}));
      assert.deepEqual(summary(entries), expected);
      assert.equal(entries.find((e) => e.path === 'untouched/u')!.xattrs?.get('user.x')?.toString(), 'after');

      // The diff applied to the lower tree gives the upper tree.
      const tar = await tarOf(entries);
      const applied = join(base, withCopyTime ? 'tree-timed' : 'tree', 'applied');
      execFileSync('cp', ['-a', lower, applied]);
      await unpackLayer([tar], applied, { mode: 'merged' });
      assert.deepEqual(await describeTree(applied), await describeTree(upper));
      assert.equal(await readFile(join(applied, 'same-size'), 'utf8'), 'CONTENT OF SAME-SIZE\n');
    });
  }

  it('emits nothing for identical trees', async () => {
    const lower = join(base, 'same', 'lower');
    await mkdir(lower, { recursive: true });
    await buildLower(lower);
    execFileSync('cp', ['-a', lower, join(base, 'same', 'upper')]);
    assert.deepEqual(await collect(treeDiffEntries(lower, join(base, 'same', 'upper'))), []);
  });
});
