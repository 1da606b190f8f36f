/**
 * Waiting for a quiet machine before each timed build, so that one tool's after-effects (a daemon
 * settling after a restart, writeback of a large layer) are not billed to the next tool.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CpuTimes {
  /** Jiffies spent idle or waiting for I/O, over all CPUs. */
  idle: number;
  total: number;
}

/** The aggregate "cpu" line of /proc/stat. */
export function parseCpuTimes(procStat: string): CpuTimes {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no aggregate cpu line in /proc/stat');
  // user nice system idle iowait irq softirq steal (guest times are already inside user and nice)
  const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  return { idle: (values[3] ?? 0) + (values[4] ?? 0), total };
}

/** Share of CPU time that was busy between two readings (0 when no time passed). */
export function busyShare(before: CpuTimes, after: CpuTimes): number {
  const total = after.total - before.total;
  return total <= 0 ? 0 : 1 - (after.idle - before.idle) / total;
}

export interface IdleOptions {
  /** Busy share under which a window counts as quiet. */
  maxBusy: number;
  windowMs: number;
  timeoutMs: number;
}

export const DEFAULT_IDLE: IdleOptions = { maxBusy: 0.05, windowMs: 300, timeoutMs: 20_000 };

/** Waits for a quiet window; returns false when the machine stayed busy until the timeout. */
export async function waitForIdle(options: IdleOptions = DEFAULT_IDLE): Promise<boolean> {
  const deadline = Date.now() + options.timeoutMs;
  let before = parseCpuTimes(await readFile('/proc/stat', 'utf8'));
  while (Date.now() < deadline) {
    await sleep(options.windowMs);
    const after = parseCpuTimes(await readFile('/proc/stat', 'utf8'));
    if (busyShare(before, after) <= options.maxBusy) return true;
    before = after;
  }
  return false;
}
