import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { conformanceDir } from './helpers/conformance.js';

// The shared tables live beside the project checkout when it is the team's working copy; CI's clean
// clone has only the vendored copy, so this check runs where the original is present.
const sharedDir = join(process.cwd(), '..', 'shared', 'conformance');

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

test('vendored conformance tables match the shared originals', { skip: !existsSync(sharedDir) && 'shared conformance tables not present' }, () => {
  for (const file of listFiles(sharedDir)) {
    const rel = relative(sharedDir, file);
    const vendored = join(conformanceDir, rel);
    assert.ok(existsSync(vendored), `${rel} is not vendored under test/fixtures/conformance`);
    assert.equal(readFileSync(vendored, 'utf8'), readFileSync(file, 'utf8'), `${rel} differs from the shared table`);
  }
});
