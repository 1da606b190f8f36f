/**
 * What the hostile suites check after each trial beyond the outcome: that nothing outside the store
 * changed (a sentinel directory compared entry by entry, names carrying the suite's marker in /tmp,
 * device nodes where only the store may hold them), and how much memory the command and its children
 * took at their peak, read from /proc while they run.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A directory's entries with everything a write through a link could change. */
export async function describeTree(root: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const names = (await readdir(dir).catch(() => [] as string[])).sort();
    for (const name of names) {
      const path = join(dir, name);
      const st = await lstat(path);
      let detail = '';
      if (st.isSymbolicLink()) detail = `-> ${await readlink(path)}`;
      else if (st.isFile()) detail = createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16);
      lines.push(`${rel}${name} mode=${st.mode.toString(8)} uid=${st.uid} gid=${st.gid} size=${st.size} mtime=${st.mtimeMs} nlink=${st.nlink} ${detail}`);
      if (st.isDirectory()) await walk(path, `${rel}${name}/`);
    }
  };
  const st = await lstat(root);
  lines.push(`. mode=${st.mode.toString(8)} uid=${st.uid} mtime=${st.mtimeMs}`);
  await walk(root, '');
  return lines.join('\n');
}

/** The sentinel a hostile input aims at: a directory with a file, outside every store. */
export async function makeSentinel(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'sub'), { recursive: true });
  await writeFile(join(dir, 'file'), 'sentinel: must never change\n', { mode: 0o644 });
  await writeFile(join(dir, 'sub', 'inner'), 'inner\n', { mode: 0o600 });
  return describeTree(dir);
}

/** Lines of two tree descriptions that differ. */
export function treeDifference(before: string, after: string): string[] {
  const was = new Set(before.split('\n'));
  const now = new Set(after.split('\n'));
  return [...[...was].filter((line) => !now.has(line)).map((line) => `- ${line}`), ...[...now].filter((line) => !was.has(line)).map((line) => `+ ${line}`)];
}

/** Names in `dirs` (top level) that contain `marker`. */
export async function markedNames(dirs: string[], marker: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of dirs) for (const name of await readdir(dir).catch(() => [] as string[])) if (name.includes(marker)) found.push(join(dir, name));
  return found;
}

/** Character and block devices under `dir` (a place gantry must never create one). */
export async function devicesUnder(dir: string, skip: (path: string) => boolean = () => false): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string): Promise<void> => {
    if (skip(path)) return;
    const st = await lstat(path).catch(() => undefined);
    if (!st) return;
    if (st.isCharacterDevice() || st.isBlockDevice()) found.push(path);
    if (st.isDirectory()) for (const name of await readdir(path).catch(() => [] as string[])) await walk(join(path, name));
  };
  await walk(dir);
  return found;
}

/** Removes temporary and half-ingested files a command left, so one finding does not repeat in every later trial. */
export async function clearLeftovers(root: string): Promise<void> {
  for (const sub of ['tmp', 'ingest']) {
    for (const name of await readdir(join(root, sub)).catch(() => [] as string[])) if (name !== 'empty') await rm(join(root, sub, name), { recursive: true, force: true });
  }
}

async function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const match = text === undefined ? undefined : new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

async function descendants(pid: number): Promise<number[]> {
  const all: number[] = [];
  const visit = async (p: number): Promise<void> => {
    const tasks = await readdir(`/proc/${p}/task`).catch(() => [] as string[]);
    for (const task of tasks) {
      const text = await readFile(`/proc/${p}/task/${task}/children`, 'utf8').catch(() => '');
      for (const child of text.split(' ').filter(Boolean).map(Number)) {
        all.push(child);
        await visit(child);
      }
    }
  };
  await visit(pid);
  return all;
}

/**
 * The peak resident memory of a process tree, sampled from /proc: each process's own high-water mark
 * (VmHWM), and the largest sum of the tree's resident sizes seen at one sample.
 */
export class MemoryWatch {
  private readonly peaks = new Map<number, number>();
  private maxTotalKb = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();

  start(pid: number, intervalMs = 50): void {
    const sample = async (): Promise<void> => {
      let total = 0;
      for (const p of [pid, ...(await descendants(pid))]) {
        const hwm = await statusKb(p, 'VmHWM');
        if (hwm !== undefined) this.peaks.set(p, Math.max(this.peaks.get(p) ?? 0, hwm));
        total += (await statusKb(p, 'VmRSS')) ?? 0;
      }
      this.maxTotalKb = Math.max(this.maxTotalKb, total);
    };
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(sample);
    }, intervalMs);
    this.sampling = sample();
  }

  /** Peak bytes: the largest single process's high-water mark, or the largest total seen, whichever is more. */
  async stop(): Promise<number> {
    clearInterval(this.timer);
    await this.sampling;
    return Math.max(this.maxTotalKb, ...this.peaks.values(), 0) * 1024;
  }
}
