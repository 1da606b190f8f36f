/**
 * Measures selectSources over a generated context: cold (no stat cache), warm (nothing changed) and
 * one file changed. Not a test; run after building:
 *
 *   node dist/bench/context-selection.js [files=30000] [directory]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StatCache, selectSources, type Selection } from '../src/context/index.js';

const fileCount = Number(process.argv[2] ?? 30000);
const keep = process.argv[3];
const root = keep ?? (await mkdtemp(join(tmpdir(), 'gantry-bench-')));
const context = join(root, 'context');
const cacheFile = join(root, 'stat-cache');
// A clock ahead of the files' timestamps, so digests of freshly written files are not racy.
const later = () => (BigInt(Date.now()) + 10_000n) * 1_000_000n;

async function generate(): Promise<void> {
  const perDirectory = 100;
  for (let i = 0; i < fileCount; i++) {
    const dir = join(context, `pkg${Math.floor(i / (perDirectory * 10))}`, `mod${Math.floor(i / perDirectory)}`);
    if (i % perDirectory === 0) await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `file${i}.txt`), `content of file ${i}\n`.repeat(1 + (i % 40)));
  }
}

async function timed(label: string, run: () => Promise<Selection>): Promise<Selection> {
  const started = performance.now();
  const selection = await run();
  const ms = performance.now() - started;
  const { entries, filesHashed, cacheHits } = selection.stats;
  console.log(`${label.padEnd(12)} ${ms.toFixed(0).padStart(6)} ms  entries=${entries} hashed=${filesHashed} cacheHits=${cacheHits}`);
  return selection;
}

async function selectWithCache(): Promise<Selection> {
  const statCache = await StatCache.open(cacheFile, { now: later });
  const selection = await selectSources(context, ['.'], { statCache });
  await statCache.save();
  return selection;
}

try {
  await generate();
  await timed('no cache', () => selectSources(context, ['.']));
  const cold = await timed('cold', selectWithCache);
  const warm = await timed('warm', selectWithCache);
  await writeFile(join(context, 'pkg0', 'mod0', 'file0.txt'), 'changed\n');
  const changed = await timed('one changed', selectWithCache);
  console.log(`digests: cold=warm ${cold.digest === warm.digest}, changed differs ${changed.digest !== warm.digest}`);
} finally {
  if (keep === undefined) await rm(root, { recursive: true, force: true });
}
