/**
 * The judge both hostile suites apply after a trial: the command's outcome (lib.ts's judgeOutcome), its
 * peak memory, the store's integrity and cleanliness (the fault suites' storeProblems and allLeftovers),
 * and — for the suite that aims at the host — the sentinel directory, marked names and device nodes. A
 * finding that leaves state behind (a changed sentinel, a leftover file) is repaired here, so it is
 * reported once. Also the count of trials per route both suites report.
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { judgeOutcome, type CommandOutcome } from '../lib.js';
import { allLeftovers, storeProblems } from '../suites/faults-support.js';
import type { Finding } from '../suite.js';
import { clearLeftovers, describeTree, devicesUnder, makeSentinel, markedNames, treeDifference } from './host-checks.js';

/** Above this a command's memory is a finding: streams must stay bounded whatever the input expands to. */
const MEMORY_LIMIT_BYTES = 500 * 1024 * 1024;

export interface HostGuard {
  /** The sentinel directory and its description when made. */
  sentinel: string;
  sentinelState: string;
  marker: string;
  /** Directories whose top level must never hold a marked name (ancestors of every place gantry extracts to). */
  watched: string[];
  /** Where device nodes must never appear, and what under it to skip (the store, where image content lives). */
  deviceScan?: { dir: string; skip: (path: string) => boolean };
}

export async function newHostGuard(sentinel: string, marker: string, watched: string[], deviceScan?: HostGuard['deviceScan']): Promise<HostGuard> {
  return { sentinel, sentinelState: await makeSentinel(sentinel), marker, watched, deviceScan };
}

/** The outcome, memory and store checks shared by every hostile trial. */
export async function judgeTrial(root: string, input: string, outcome: CommandOutcome, peakBytes: number | undefined): Promise<Finding[]> {
  const findings: Finding[] = [];
  const verdict = judgeOutcome(outcome, input);
  if (verdict) findings.push(verdict);
  if (peakBytes !== undefined && peakBytes > MEMORY_LIMIT_BYTES) {
    findings.push({ kind: 'crash', input, detail: `peak resident memory ${Math.round(peakBytes / 1048576)} MB (limit ${MEMORY_LIMIT_BYTES / 1048576} MB)` });
  }
  findings.push(...(await judgeStore(root, input)));
  return findings;
}

export async function judgeStore(root: string, input: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  const problems = await storeProblems(root);
  if (problems.length > 0) findings.push({ kind: 'corrupt', input, detail: problems.slice(0, 3).join('; ') });
  const left = await allLeftovers(root);
  if (left.length > 0) {
    findings.push({ kind: 'corrupt', input, detail: `left behind: ${left.join('; ')}` });
    await clearLeftovers(root);
  }
  return findings;
}

/** Escapes: the sentinel changed, a marked name appeared, a device node was made outside the store. */
export async function judgeHost(guard: HostGuard, input: string): Promise<Finding[]> {
  const findings: Finding[] = [];
  const now = await describeTree(guard.sentinel).catch((err: Error) => `unreadable: ${err.message}`);
  const changed = treeDifference(guard.sentinelState, now);
  if (changed.length > 0) {
    findings.push({ kind: 'escape', input, detail: `the sentinel directory changed: ${changed.slice(0, 4).join(' | ')}` });
    guard.sentinelState = await makeSentinel(guard.sentinel);
  }
  const marked = await markedNames(guard.watched, guard.marker);
  if (marked.length > 0) {
    findings.push({ kind: 'escape', input, detail: `created outside the store: ${marked.slice(0, 4).join(', ')}` });
    for (const path of marked) await rm(path, { recursive: true, force: true });
  }
  if (guard.deviceScan) {
    const devices = await devicesUnder(guard.deviceScan.dir, guard.deviceScan.skip);
    if (devices.length > 0) {
      findings.push({ kind: 'escape', input, detail: `device nodes created outside the store: ${devices.slice(0, 4).join(', ')}` });
      for (const path of devices) await rm(path, { force: true });
    }
  }
  return findings;
}

/** `path` and each directory above it, up to `/`. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  for (let dir = path; ; dir = dirname(dir)) {
    out.push(dir);
    if (dir === dirname(dir)) return out;
  }
}

/** The directories of a store that hostile relative paths climb out of (extraction and unpack places). */
export function storeWatchDirs(root: string): string[] {
  return [join(root, 'tmp'), join(root, 'snapshots'), join(root, 'snapshots', 'overlayfs'), join(root, 'snapshots', 'overlayfs', 'active'), join(root, 'snapshots', 'native'), ...ancestors(root)];
}

/** Trials per route and how many of them succeeded, for the report's figures. */
export class RouteTally {
  private readonly routes = new Map<string, { tried: number; succeeded: number }>();

  count(route: string, succeeded: boolean): void {
    const stats = this.routes.get(route) ?? { tried: 0, succeeded: 0 };
    stats.tried++;
    if (succeeded) stats.succeeded++;
    this.routes.set(route, stats);
  }

  figures(): Record<string, number> {
    const figures: Record<string, number> = {};
    for (const [route, stats] of this.routes) {
      figures[`${route} tried`] = stats.tried;
      figures[`${route} succeeded`] = stats.succeeded;
    }
    return figures;
  }
}
