/** The results file a run writes (bench/results/bench-<time>.json), and its Markdown report. */
import type { MachineInfo } from './machine.js';
import type { ToolName } from './options.js';
import { formatReport, type ToolReport, type UnavailableTool } from './report.js';
import { summarizeMemory, summarizeTimes, type MemoryRow, type Sample, type TimingRow } from './stats.js';
import type { Scenario } from './workloads.js';

export interface ResultsFile {
  startedAt: string;
  finishedAt: string;
  options: { rounds: number; quick: boolean; workloads: string[]; tools: ToolName[] };
  machine: MachineInfo;
  tools: ToolReport[];
  unavailable: UnavailableTool[];
  workloads: Array<{
    name: string;
    summary: string;
    tools: readonly ToolName[];
    baseline: ToolName;
    targets: Readonly<Record<Scenario, number>>;
    changedFile: string;
    dockerfile: string;
    /** Target platforms, when not the tools' default. */
    platforms?: readonly string[];
    /** Why a tool took no part. */
    leftOut?: Readonly<Partial<Record<ToolName, string>>>;
  }>;
  /** Every timed build. */
  samples: Sample[];
  timing: TimingRow[];
  memory: MemoryRow[];
}

/** Everything but the summaries, which are computed from the samples. */
export type RunRecord = Omit<ResultsFile, 'timing' | 'memory'>;

export function withSummaries(run: RunRecord): ResultsFile {
  const tools = run.tools.map((t) => t.name);
  return { ...run, timing: summarizeTimes(run.samples, run.workloads, tools), memory: summarizeMemory(run.samples, run.workloads, tools) };
}

export function renderResults(results: ResultsFile): string {
  return formatReport({
    machine: results.machine,
    rounds: results.options.rounds,
    tools: results.tools,
    unavailable: results.unavailable,
    workloads: results.workloads,
    timing: results.timing,
    memory: results.memory,
    failed: results.samples.filter((s) => s.error !== undefined),
    builds: { total: results.samples.length, busyStart: results.samples.filter((s) => !s.quietStart).length },
  });
}
