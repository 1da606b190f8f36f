import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTool } from '../../src/util/run-tool.js';
import { isGantryError } from '../../src/util/errors.js';

test('a tool that runs out of disk space is reported as the machine failure, naming what was being written', async () => {
  await assert.rejects(runTool('sh', ['-c', "echo \"cp: error writing '/out/bin/busybox': No space left on device\" >&2; exit 1"], 'writing the filesystem to /out'), (err: unknown) => {
    assert.ok(isGantryError(err));
    assert.equal(err.message, 'no space left on the device (writing the filesystem to /out)');
    assert.match(err.hint ?? '', /free space where the store or the output is/);
    return true;
  });
});

test('any other tool failure names what was being done and the tool\'s error output', async () => {
  await assert.rejects(runTool('sh', ['-c', 'echo "tar: bad header" >&2; exit 2'], 'writing the filesystem tar'), /^GantryError: writing the filesystem tar: sh failed: tar: bad header$/);
});
