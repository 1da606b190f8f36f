/** The results as Markdown tables, ready for BENCHMARKS.md. */
import type { MachineInfo } from './machine.js';
import type { ToolName } from './options.js';
import { MEMORY_LIMIT_KIB, SUBJECT, type MemoryRow, type Sample, type TimingRow } from './stats.js';
import { SCENARIO_LABELS } from './workloads.js';

export interface ToolReport {
  name: ToolName;
  title: string;
  setup: string;
  /** The exact command line timed, with placeholders for the context and tag. */
  buildCommand: string;
  /** The same for a multi-platform workload, when the tool takes part in one. */
  platformsBuildCommand?: string;
  versions: Record<string, string>;
}

export interface UnavailableTool {
  name: ToolName;
  reason: string;
}

/** What the report says of each workload besides its rows. */
export interface WorkloadNote {
  name: string;
  platforms?: readonly string[];
  leftOut?: Readonly<Partial<Record<ToolName, string>>>;
}

export interface ReportInput {
  machine: MachineInfo;
  rounds: number;
  tools: ToolReport[];
  unavailable: UnavailableTool[];
  workloads: readonly WorkloadNote[];
  timing: TimingRow[];
  memory: MemoryRow[];
  /** Every build that failed. */
  failed: readonly Sample[];
  /** How many builds were timed, and how many of them started on a machine that was not quiet. */
  builds: { total: number; busyStart: number };
}

const TITLES: Readonly<Record<ToolName, string>> = { gantry: 'gantry', buildah: 'Buildah', buildkit: 'BuildKit' };

export function formatSeconds(seconds: number): string {
  return seconds < 1 ? seconds.toFixed(3) : seconds.toFixed(2);
}

export function formatRatio(ratio: number): string {
  return `${ratio.toFixed(2)}×`;
}

export function formatMiB(kib: number): string {
  return `${(kib / 1024).toFixed(0)} MiB`;
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Rows of workloads sharing a baseline; a column per tool with builds in them, a ratio column per tool compared. */
export function timingTable(rows: readonly TimingRow[], tools: readonly ToolName[]): string {
  const present = tools.filter((tool) => rows.some((r) => r.medians[tool] !== undefined || r.failures[tool] !== undefined));
  const compared = present.filter((tool) => rows.some((r) => r.ratios[tool] !== undefined));
  const baselines = [...new Set(rows.map((r) => TITLES[r.baseline]))].join(' or ');
  const header = [
    'workload',
    'scenario',
    ...present.map((tool) => `${TITLES[tool]} s`),
    ...compared.map((tool) => `${TITLES[tool]} / ${baselines}`),
    `${TITLES[SUBJECT]} target`,
    'met',
  ];
  const body = rows.map((row) => [
    row.workload,
    SCENARIO_LABELS[row.scenario],
    ...present.map((tool) => secondsCell(row, tool)),
    ...compared.map((tool) => (row.ratios[tool] === undefined ? '–' : formatRatio(row.ratios[tool] as number))),
    `≤ ${row.target.toFixed(1)}×`,
    row.met === undefined ? 'n/a' : row.met ? 'yes' : 'no',
  ]);
  return table(header, body);
}

/** The median and, over several builds, the fastest and slowest; how many failed when some did, "failed" when all did. */
function secondsCell(row: TimingRow, tool: ToolName): string {
  const median = row.medians[tool];
  const failed = row.failures[tool];
  if (median === undefined) return failed === undefined ? '–' : 'failed';
  const range = row.ranges[tool];
  const spread = range && range[0] !== range[1] ? ` (${formatSeconds(range[0])}–${formatSeconds(range[1])})` : '';
  return `${formatSeconds(median)}${spread}${failed === undefined ? '' : `, ${failed} failed`}`;
}

export function memoryTable(rows: readonly MemoryRow[]): string {
  const body = rows.map((row) => [
    row.workload,
    TITLES[row.tool],
    formatMiB(row.peakTreeRssKiB),
    formatMiB(row.maxProcessRssKiB),
    row.met === undefined ? '' : `${row.met ? 'yes' : 'no'} (≤ ${formatMiB(MEMORY_LIMIT_KIB)})`,
  ]);
  return table(['workload', 'tool', 'peak RSS, process tree (sampled)', 'peak RSS, largest process', 'within limit'], body);
}

export function formatReport(input: ReportInput): string {
  const { machine } = input;
  const names = input.tools.map((t) => t.name);
  const baselines = [...new Set(input.timing.map((r) => r.baseline))];
  const lines = [
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, kernel ${machine.kernel}, disk ${machine.disk}`,
    '',
    ...input.tools.map((t) => `- ${t.title}: ${Object.entries(t.versions).map(([k, v]) => `${k} ${v}`).join('; ')} — \`${t.setup}\``),
    ...input.unavailable.map((u) => `- ${TITLES[u.name]}: not measured — ${u.reason.split('\n')[0]}`),
    ...input.workloads.flatMap((w) => [
      ...(w.platforms ? [`- ${w.name} builds for ${w.platforms.join(' and ')} at once`] : []),
      ...Object.entries(w.leftOut ?? {}).map(([tool, reason]) => `- ${w.name}: ${TITLES[tool as ToolName]} left out — ${reason}`),
    ]),
    '',
    `Medians of ${input.rounds} round${input.rounds === 1 ? '' : 's'} (fastest–slowest in brackets), seconds from process start to exit; ` +
      `ratios are of medians, to ${baselines.map((b) => TITLES[b]).join(' or ') || 'the baseline'}. ` +
      `${input.builds.busyStart} of ${input.builds.total} builds started before the machine was quiet.`,
    '',
    ...baselines.flatMap((baseline) => [timingTable(input.timing.filter((r) => r.baseline === baseline), names), '']),
    'Peak memory (the largest over all scenarios and rounds):',
    '',
    memoryTable(input.memory),
  ];
  if (input.failed.length > 0) lines.push('', 'Failed builds:', '', ...failureLines(input.failed));
  const missed = input.timing.filter((r) => r.met === false);
  const unmeasured = input.timing.filter((r) => r.met === undefined);
  const overMemory = input.memory.filter((r) => r.met === false);
  lines.push('', `Targets: ${input.timing.length - missed.length - unmeasured.length} of ${input.timing.length} time targets met, ${missed.length} missed, ${unmeasured.length} not measurable; memory ${overMemory.length === 0 ? 'within' : 'over'} the limit${overMemory.length ? ` on ${overMemory.map((r) => r.workload).join(', ')}` : ''}.`);
  return `${lines.join('\n')}\n`;
}

/** The exit status and first line of output of a failed build's error. */
export function errorSummary(error: string): string {
  const [first = '', ...output] = error.split('\n');
  const status = /(exited \d+|was killed by \w+)$/.exec(first)?.[1] ?? 'failed';
  const detail = output.map((line) => line.trim()).find((line) => line !== '');
  return detail === undefined ? status : `${status}: ${detail}`;
}

/** One line per distinct failure, with the rounds it happened in. */
function failureLines(failed: readonly Sample[]): string[] {
  const rounds = new Map<string, number[]>();
  for (const sample of failed) {
    const key = `${TITLES[sample.tool]}, ${sample.workload}, ${SCENARIO_LABELS[sample.scenario]} — ${errorSummary(sample.error ?? '')}`;
    rounds.set(key, [...(rounds.get(key) ?? []), sample.round]);
  }
  return [...rounds].map(([key, list]) => `- ${key} (round${list.length === 1 ? '' : 's'} ${list.join(', ')})`);
}
