import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needsEmulation, requireEmulation } from '../../src/exec/emulation.js';
import { parsePlatformFlag } from '../../src/image/platform.js';
import { isGantryError } from '../../src/util/errors.js';

const amd64 = parsePlatformFlag('linux/amd64');

test('native platforms never need an emulator', () => {
  assert.equal(needsEmulation(parsePlatformFlag('linux/amd64'), amd64), false);
  assert.equal(needsEmulation(parsePlatformFlag('linux/386'), amd64), false);
  assert.equal(needsEmulation(parsePlatformFlag('linux/arm64'), amd64), true);
  assert.equal(needsEmulation(parsePlatformFlag('linux/amd64'), parsePlatformFlag('linux/arm64')), true);
});

test('a foreign platform without a registered handler fails naming the platform and the emulator', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gantry-binfmt-'));
  try {
    if (process.arch !== 'x64') return;
    await assert.rejects(requireEmulation(parsePlatformFlag('linux/arm64'), dir), (err: unknown) => {
      assert.ok(isGantryError(err));
      assert.match(err.message, /linux\/arm64 need QEMU emulation.*qemu-aarch64 is registered/);
      assert.match(err.hint ?? '', /gantry setup binfmt/);
      return true;
    });
    await writeFile(join(dir, 'qemu-aarch64'), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: P\noffset 0\n');
    await assert.rejects(requireEmulation(parsePlatformFlag('linux/arm64'), dir), /lacks the fix-binary \(F\) flag/);
    await writeFile(join(dir, 'qemu-aarch64'), 'disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n');
    await assert.rejects(requireEmulation(parsePlatformFlag('linux/arm64'), dir), /no binfmt_misc handler for qemu-aarch64 is enabled/);
    await writeFile(join(dir, 'qemu-aarch64'), 'enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n');
    await requireEmulation(parsePlatformFlag('linux/arm64'), dir);
    await requireEmulation(amd64, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
