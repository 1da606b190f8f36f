/**
 * The command line's handling of arguments, through the real program: each mistake is refused before
 * anything is done, with a message naming the flag or value and no stack trace, and the store is left
 * untouched (or not even created). No root needed.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gantry, tempDir, type GantryResult } from '../helpers/gantry.js';

let work: { path: string; cleanup(): Promise<void> };
let context: string;
let root: string;

before(async () => {
  work = await tempDir('cli-arguments');
  context = join(work.path, 'ctx');
  root = join(work.path, 'store');
  await mkdir(context);
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY Dockerfile /\n');
});
after(async () => work.cleanup());

function assertRefused(result: GantryResult, pattern: RegExp): void {
  assert.notEqual(result.code, 0, `expected a refusal:\n${result.stderr}`);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /internal error|^\s+at .+:\d+:\d+\)?$/m, result.stderr);
}

describe('argument handling', () => {
  it('an unknown command or flag is refused with a suggestion and exit code 1', async () => {
    const unknown = await gantry(root, ['biuld', context]);
    assertRefused(unknown, /unknown command 'biuld'[\s\S]*Did you mean build\?/);
    const flag = await gantry(root, ['build', '--tga', 'x', context]);
    assertRefused(flag, /unknown option '--tga'[\s\S]*Did you mean --tag\?/);
  });

  it('build flags with values gantry does not know name the flag and the accepted values', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--platform', 'linux/z80'], /invalid platform "linux\/z80": unknown architecture "z80"/],
      [['--platform', 'linux'], /invalid platform "linux": expected os\/arch/],
      [['--progress', 'fancy'], /--progress fancy is not a progress mode/],
      [['--network', 'bridge'], /--network bridge is not supported/],
      [['--allow', 'device'], /device/],
      [['-o', 'type=s3,dest=x'], /--output type=s3 is not supported/],
      [['-o', 'type=oci,dest=x,compression=zstd'], /--output: option "compression" is not supported/],
      [['-o', 'type=oci'], /--output type=oci needs dest=PATH/],
      [['--cache-to', 'type=gha'], /--cache-to: type=gha is not supported/],
      [['--cache-from', 'type=local'], /--cache-from type=local needs src=DIR/],
      [['--cache-to', 'type=local,dest=x,mode=all'], /--cache-to: mode=all is not min or max/],
      [['--secret', 'src=x'], /--secret "src=x" needs id=/],
      [['--secret', 'id=x,path=y'], /--secret: option "path" is not supported/],
      [['--label', 'novalue'], /--label "novalue" must be KEY=VALUE/],
      [['--push'], /--push needs at least one -t name/],
      [['--build-arg', 'SOURCE_DATE_EPOCH=yesterday'], /SOURCE_DATE_EPOCH "yesterday" is not a number of seconds/],
    ];
    const untouched = join(work.path, 'never-opened');
    for (const [flags, pattern] of cases) assertRefused(await gantry(untouched, ['build', ...flags, context]), pattern);
    await assert.rejects(readdir(untouched), /ENOENT/, 'flag mistakes are caught before the store is opened');
  });

  it('a context or Dockerfile that is not there is named', async () => {
    assertRefused(await gantry(root, ['build', join(work.path, 'nowhere')]), /build context .*nowhere does not exist/);
    assertRefused(await gantry(root, ['build', '-f', join(work.path, 'Nofile'), context]), /cannot read Dockerfile .*Nofile[\s\S]*hint: check the -f path/);
  });

  it('other commands check their arguments the same way', async () => {
    assertRefused(await gantry(root, ['save', 'x:1', '-o', join(work.path, 'out.tar'), '--format', 'zip']), /--format zip is not an archive format/);
    assertRefused(await gantry(root, ['load']), /load needs an archive/);
    assertRefused(await gantry(root, ['run', '--network', 'bridge', 'x:1']), /--network bridge is not supported/);
    assertRefused(await gantry(root, ['login', 'registry.test']), /login needs --username/);
    assertRefused(await gantry(root, ['manifest', 'create', '--local', '--annotation', 'x', 'a:1', 'b:1']), /--annotation "x" must be KEY=VALUE/);
    assertRefused(await gantry(root, ['inspect', 'nothing:here']), /no such image: nothing:here/);
  });

  it('a refused command changes nothing in the store', async () => {
    assertRefused(await gantry(root, ['rmi', 'nothing:here']), /no such image/);
    assertRefused(await gantry(root, ['tag', 'nothing:here', 'other:1']), /no such image/);
    assert.deepEqual(await readdir(join(root, 'blobs', 'sha256')), []);
    assert.equal((await gantry(root, ['images', '-q'])).stdout, '', 'no image was named');
  });
});
