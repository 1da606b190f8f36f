/**
 * Multi-stage builds: named and indexed stages, FROM <stage>, COPY --from a stage, an index or an
 * image, RUN --mount from a stage, COPY --link, --target, stages the target does not need left
 * unbuilt (and their base images unresolved), and independent stages built at the same time.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isRoot } from '../helpers/gantry.js';
import { build, busyboxRoot, failingBuild, fileDigest, layerItems, layoutImage, type TestRoot, umociUnpack, writeTree } from './support.js';

describe('multi-stage builds', { skip: !isRoot && 'needs root (runc, overlay mounts)' }, () => {
  let t: TestRoot;
  let context: string;
  let progress: string;
  let rootfs: string;

  // Each of the two stages waits until the other has started: they finish only if built at the same time.
  const meetInTheMiddle = (me: string, other: string) =>
    `RUN --mount=type=cache,id=rendezvous,sharing=shared,target=/sync touch /sync/${me} && i=0; ` +
    `while [ ! -e /sync/${other} ]; do i=$((i+1)); if [ $i -gt 400 ]; then echo "${other} never started" >&2; exit 1; fi; sleep 0.05; done; echo ${me} > /${me}.txt`;

  before(async () => {
    t = await busyboxRoot('e2e-multistage');
    context = await writeTree(join(t.work, 'ctx'), {
      Dockerfile: [
        'FROM busybox:latest AS base',
        'RUN echo base > /base.txt',
        '',
        'FROM base AS left',
        meetInTheMiddle('left', 'right'),
        'RUN --mount=type=bind,from=base,source=/,target=/b cat /b/base.txt > /from-mount.txt',
        '',
        'FROM base AS right',
        meetInTheMiddle('right', 'left'),
        '',
        'FROM busybox:latest AS broken',
        'RUN exit 1',
        '',
        'FROM example.com/not/pulled:1 AS unresolved',
        'RUN exit 1',
        '',
        'FROM busybox:latest AS links',
        'RUN mkdir -p /out/sub && ln -s /out/sub /sub && ln -s out/sub /sub2 && echo -n data > /sub/foo',
        '',
        'FROM scratch AS final',
        'COPY --from=left /left.txt /from-left/',
        'COPY --from=2 /right.txt /from-index/',
        'COPY --from=base /base.txt /',
        'COPY --from=busybox:latest /bin/busybox /busybox',
        'COPY --from=left /from-mount.txt /',
        'COPY --link --from=left /left.txt /linked/',
        'COPY --from=links /sub/foo /through-absolute',
        'COPY --from=links /sub2/foo /through-relative',
        '',
      ].join('\n'),
    });
    const result = await build(t.root, context, ['-t', 'multi:1']);
    progress = result.stderr;
    rootfs = await umociUnpack(t.root, 'multi:1', join(t.work, 'bundle'));
  });
  after(() => t?.cleanup());

  it('copies from named stages, stage indexes and images', async () => {
    assert.equal(await readFile(join(rootfs, 'from-left/left.txt'), 'utf8'), 'left\n');
    assert.equal(await readFile(join(rootfs, 'from-index/right.txt'), 'utf8'), 'right\n');
    assert.equal(await readFile(join(rootfs, 'base.txt'), 'utf8'), 'base\n');
    assert.equal(await fileDigest(join(rootfs, 'busybox')), await fileDigest('/bin/busybox'));
    assert.equal(await readFile(join(rootfs, 'from-mount.txt'), 'utf8'), 'base\n', 'RUN --mount=type=bind,from=<stage>');
    assert.equal(await readFile(join(rootfs, 'through-absolute'), 'utf8'), 'data', 'an absolute symlink in the stage resolves inside it (testCopyThroughSymlinkMultiStage)');
    assert.equal(await readFile(join(rootfs, 'through-relative'), 'utf8'), 'data');
  });

  it('builds independent stages at the same time (each waited for the other)', () => {
    assert.match(progress, /\[left 1\/2\] RUN --mount=type=cache/);
    assert.match(progress, /\[right 1\/1\] RUN --mount=type=cache/);
  });

  it('never builds stages the target does not need, nor resolves their base images', () => {
    assert.doesNotMatch(progress, /broken|unresolved|not\/pulled/);
  });

  it('writes only the target stage into the image', async () => {
    const { config, manifest } = await layoutImage(t.root, 'multi:1');
    assert.deepEqual(
      (config.history ?? []).map((h) => h.created_by),
      [
        'COPY /left.txt /from-left/ # buildkit',
        'COPY /right.txt /from-index/ # buildkit',
        'COPY /base.txt / # buildkit',
        'COPY /bin/busybox /busybox # buildkit',
        'COPY /from-mount.txt / # buildkit',
        'COPY /left.txt /linked/ # buildkit',
        'COPY /sub/foo /through-absolute # buildkit',
        'COPY /sub2/foo /through-relative # buildkit',
      ],
    );
    assert.equal(manifest.layers.length, 8);
    const linked = await layerItems(t.root, manifest.layers[5]!);
    assert.deepEqual(linked.map((item) => item.name).sort(), ['linked/', 'linked/left.txt'], 'a --link layer holds only what it adds');
  });

  it('builds only what --target needs', async () => {
    const result = await build(t.root, context, ['--target', 'base', '-t', 'multi-base:1']);
    assert.doesNotMatch(result.stderr, /\[(left|right|final)/);
    const rootfs = await umociUnpack(t.root, 'multi-base:1', join(t.work, 'base-bundle'));
    assert.equal(await readFile(join(rootfs, 'base.txt'), 'utf8'), 'base\n');
    const broken = await failingBuild(t.root, context, ['--target', 'broken']);
    assert.match(broken.stderr, /\[broken 2\/2\] RUN exit 1/);
    assert.match(broken.stderr, /exit code: 1/);
  });
});
