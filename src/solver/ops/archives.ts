/**
 * ADD of an archive: a tar (plain, gzip, bzip2, xz or zstd) from the build context, or a download with
 * --unpack=true, is extracted into the destination instead of being copied, as Docker does; anything
 * else is copied as a file.
 * The archive is unpacked into a private directory first (paths kept inside it), then copied like a
 * directory source, keeping the archive's owners unless --chown is given.
 */
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CopyStep } from '../../frontend/index.js';
import { decompressLayer } from '../../image/index.js';
import { unpackLayer } from '../../snapshot/index.js';
import { treeSelector } from '../context-sources.js';
import type { SelectedSource } from './copy-plan.js';

const TAR_MAGIC_OFFSET = 257;

/** Extracts the sources `unpack` accepts that are tar archives; the others are returned as they are. */
export async function extractArchiveSources(sources: SelectedSource[], tmpDir: string, step: CopyStep, unpack: (source: SelectedSource) => boolean): Promise<SelectedSource[]> {
  const result: SelectedSource[] = [];
  let counter = 0;
  for (const source of sources) {
    const file = unpack(source) && !source.isDir && source.entries.length === 1 && source.entries[0].type === 'file' ? source.entries[0] : undefined;
    if (!file || !(await isTarArchive(file.hostPath))) {
      result.push(source);
      continue;
    }
    const dir = join(tmpDir, `add-extract-${process.pid}-${++counter}-${step.source.startLine}`);
    await mkdir(dir, { recursive: true });
    await unpackLayer(decompressLayer(createReadStream(file.hostPath), source.path), dir, { mode: 'merged', layer: source.path });
    const [extracted] = (await treeSelector(dir, `archive ${source.path}`).select(['.'], { exclude: [], parents: false })).sources;
    result.push({ ...extracted, path: source.path, name: source.name });
  }
  return result;
}

/** Whether the file, once decompressed, starts with a tar header (ustar magic). */
async function isTarArchive(path: string): Promise<boolean> {
  const stream = decompressLayer(createReadStream(path), path);
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      head = Buffer.concat([head, chunk as Buffer]);
      if (head.length >= 512) break;
    }
  } catch {
    return false;
  } finally {
    stream.destroy();
  }
  return head.length >= 512 && head.subarray(TAR_MAGIC_OFFSET, TAR_MAGIC_OFFSET + 5).toString('latin1') === 'ustar';
}
