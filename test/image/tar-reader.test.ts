/** The tar reader against hostile headers: PAX records are read as Go's archive/tar reads them, or refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TarReader } from '../../src/image/index.js';
import { GantryError } from '../../src/util/errors.js';
import { rawTar } from '../snapshot/tree.js';

async function headers(tar: Buffer): Promise<Array<{ name: string; size: number; uid: number; mtime: number; linkname: string }>> {
  const reader = new TarReader([tar], 'sha256:test');
  const found = [];
  for (let header = await reader.next(); header; header = await reader.next()) found.push(header);
  await reader.finish();
  return found;
}

const withRecords = (records: Record<string, string>) =>
  rawTar([{ name: 'file', content: '0123456789abcdef', extraRecords: new Map(Object.entries(records).map(([key, value]) => [key, Buffer.from(value)])) }]);

describe('tar reader: PAX records', () => {
  it('takes decimal numbers, with a fraction for mtime, as Go does', async () => {
    const [header] = await headers(withRecords({ size: '16', uid: '+1000', mtime: '1700000000.25' }));
    assert.deepEqual([header!.size, header!.uid, header!.mtime], [16, 1000, 1700000000.25]);
  });

  it('refuses numbers Go refuses, instead of reading the layer another way than containerd', async () => {
    for (const [key, value] of [['size', '0x10'], ['size', '1e1'], ['size', ' 16'], ['uid', '1.5'], ['gid', ''], ['mtime', '1e300'], ['mtime', '9'.repeat(400)], ['mtime', 'nan']]) {
      await assert.rejects(headers(withRecords({ [key]: value })), (err: unknown) => {
        assert.ok(err instanceof GantryError);
        assert.match(err.message, new RegExp(`layer sha256:test: invalid PAX ${key} `));
        return true;
      }, `${key}=${JSON.stringify(value)}`);
    }
  });

  it('refuses a path or link path holding a NUL byte', async () => {
    for (const key of ['path', 'linkpath']) {
      await assert.rejects(headers(withRecords({ [key]: 'inside\0/../../outside' })), /PAX record "(path|linkpath)" holds a NUL byte/);
    }
  });
});
