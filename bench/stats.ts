/** From raw timings to the report's numbers: medians per tool, ratios to the baseline, targets. */
import type { ToolName } from './options.js';
import { SCENARIOS, type Scenario, type Workload } from './workloads.js';

export interface Sample {
  round: number;
  workload: string;
  scenario: Scenario;
  tool: ToolName;
  seconds: number;
  peakTreeRssKiB: number;
  maxProcessRssKiB: number;
  /** CPU time of the command's process tree (for BuildKit, of the client only: the daemon does the work). */
  cpuSeconds: number;
  /** Whether the machine was quiet when the build started (other work may share it). */
  quietStart: boolean;
  /** Set when the build failed: the start of its error output; such samples have no place in medians. */
  error?: string;
}

/** The tool the targets are about. */
export const SUBJECT: ToolName = 'gantry';
/** The ceiling on gantry's peak memory, on every workload. */
export const MEMORY_LIMIT_KIB = 300 * 1024;

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export interface TimingRow {
  workload: string;
  scenario: Scenario;
  baseline: ToolName;
  /** Median seconds per tool that has samples. */
  medians: Partial<Record<ToolName, number>>;
  /** Fastest and slowest successful build per tool. */
  ranges: Partial<Record<ToolName, [number, number]>>;
  /** Number of successful builds behind each median. */
  runs: Partial<Record<ToolName, number>>;
  /** Failed builds per tool, when any failed. */
  failures: Partial<Record<ToolName, number>>;
  /** Each tool's median divided by the baseline's; absent without baseline samples. */
  ratios: Partial<Record<ToolName, number>>;
  target: number;
  /** Whether gantry's ratio is within the target: false when gantry failed, absent when there is no baseline. */
  met?: boolean;
}

type WorkloadTerms = Pick<Workload, 'name' | 'baseline' | 'targets'>;

export function summarizeTimes(samples: readonly Sample[], workloads: readonly WorkloadTerms[], tools: readonly ToolName[]): TimingRow[] {
  const rows: TimingRow[] = [];
  for (const workload of workloads) {
    for (const scenario of SCENARIOS) {
      const medians: Partial<Record<ToolName, number>> = {};
      const runs: Partial<Record<ToolName, number>> = {};
      const ranges: Partial<Record<ToolName, [number, number]>> = {};
      const failures: Partial<Record<ToolName, number>> = {};
      for (const tool of tools) {
        const mine = samples.filter((s) => s.workload === workload.name && s.scenario === scenario && s.tool === tool);
        const failed = mine.filter((s) => s.error !== undefined).length;
        if (failed > 0) failures[tool] = failed;
        const seconds = mine.filter((s) => s.error === undefined).map((s) => s.seconds);
        if (seconds.length === 0) continue;
        medians[tool] = median(seconds);
        ranges[tool] = [Math.min(...seconds), Math.max(...seconds)];
        runs[tool] = seconds.length;
      }
      if (Object.keys(medians).length === 0 && Object.keys(failures).length === 0) continue;
      const ratios: Partial<Record<ToolName, number>> = {};
      const baseline = medians[workload.baseline];
      if (baseline !== undefined) {
        for (const tool of tools) {
          const value = medians[tool];
          if (value !== undefined && tool !== workload.baseline) ratios[tool] = value / baseline;
        }
      }
      const target = workload.targets[scenario];
      const ratio = ratios[SUBJECT];
      const subjectFailed = failures[SUBJECT] !== undefined;
      const met = subjectFailed && medians[workload.baseline] !== undefined ? false : ratio === undefined ? undefined : ratio <= target;
      rows.push({ workload: workload.name, scenario, baseline: workload.baseline, medians, ranges, runs, failures, ratios, target, ...(met === undefined ? {} : { met }) });
    }
  }
  return rows;
}

export interface MemoryRow {
  workload: string;
  tool: ToolName;
  /** Largest sampled sum over the process tree, any scenario and round. */
  peakTreeRssKiB: number;
  /** Largest single-process high-water mark, any scenario and round. */
  maxProcessRssKiB: number;
  /** gantry only: whether the larger of the two is within MEMORY_LIMIT_KIB. */
  met?: boolean;
}

export function summarizeMemory(samples: readonly Sample[], workloads: readonly WorkloadTerms[], tools: readonly ToolName[]): MemoryRow[] {
  const rows: MemoryRow[] = [];
  for (const workload of workloads) {
    for (const tool of tools) {
      const mine = samples.filter((s) => s.workload === workload.name && s.tool === tool);
      if (mine.length === 0) continue;
      const peakTreeRssKiB = Math.max(...mine.map((s) => s.peakTreeRssKiB));
      const maxProcessRssKiB = Math.max(...mine.map((s) => s.maxProcessRssKiB));
      const met = tool === SUBJECT ? Math.max(peakTreeRssKiB, maxProcessRssKiB) <= MEMORY_LIMIT_KIB : undefined;
      rows.push({ workload: workload.name, tool, peakTreeRssKiB, maxProcessRssKiB, ...(met === undefined ? {} : { met }) });
    }
  }
  return rows;
}
