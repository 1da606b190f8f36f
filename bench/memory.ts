/**
 * Resident memory of a process tree, sampled from /proc: the sum of the RSS of every descendant of a
 * root process (the root itself, a `/usr/bin/time` wrapper, is left out). Sampling can miss a peak
 * shorter than its interval; the wrapper's exact per-process maximum (ru_maxrss) complements it.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export interface ProcStat {
  pid: number;
  /** R, S, D, Z...; Z is a zombie, exited but not yet reaped. */
  state: string;
  ppid: number;
  rssPages: number;
}

/** Parses /proc/PID/stat; the command name may hold spaces and parentheses, so fields count from the last ')'. */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`);
  // After ") " come field 3 (state), 4 (ppid), ... 24 (rss, in pages).
  const fields = text.slice(close + 2).trim().split(/\s+/);
  return { pid: Number(text.slice(0, open).trim()), state: fields[0], ppid: Number(fields[1]), rssPages: Number(fields[21]) };
}

/** Pages resident in the descendants of `root` (not counting `root`). */
export function descendantRssPages(processes: readonly ProcStat[], root: number): number {
  const children = new Map<number, ProcStat[]>();
  for (const p of processes) {
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p);
    else children.set(p.ppid, [p]);
  }
  let pages = 0;
  const pending = [...(children.get(root) ?? [])];
  for (let p = pending.pop(); p !== undefined; p = pending.pop()) {
    pages += p.rssPages;
    pending.push(...(children.get(p.pid) ?? []));
  }
  return pages;
}

let cachedPageSize: number | undefined;

export function pageSizeBytes(): number {
  cachedPageSize ??= Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
  return cachedPageSize;
}

async function readProcesses(): Promise<ProcStat[]> {
  const names = await readdir('/proc');
  const stats = await Promise.all(
    names
      .filter((name) => /^\d+$/.test(name))
      // A process may exit between the listing and the read.
      .map((name) => readFile(`/proc/${name}/stat`, 'utf8').then(parseProcStat, () => undefined)),
  );
  return stats.filter((s): s is ProcStat => s !== undefined);
}

/** Samples the tree under `root` every `intervalMs` until stopped; `stop` gives the largest sum seen, in KiB. */
export class TreeRssSampler {
  private peakPages = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly root: number,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.tick();
  }

  async stop(): Promise<number> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sampling;
    return (this.peakPages * pageSizeBytes()) / 1024;
  }

  private tick(): void {
    if (this.stopped) return;
    this.sampling = readProcesses().then((processes) => {
      this.peakPages = Math.max(this.peakPages, descendantRssPages(processes, this.root));
      if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.intervalMs);
    });
  }
}
