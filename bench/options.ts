/**
 * The benchmark's options, from flags (`npm run bench -- --quick`) or environment variables
 * (GANTRY_BENCH_*); a flag wins over its variable.
 */
import { parseArgs } from 'node:util';
import { GantryError } from '../src/util/errors.js';

export const TOOL_NAMES = ['gantry', 'buildah', 'buildkit'] as const;
export const GANTRY_NETWORKS = ['host', 'default', 'none'] as const;
export type GantryNetwork = (typeof GANTRY_NETWORKS)[number];
export type ToolName = (typeof TOOL_NAMES)[number];

export interface BenchOptions {
  /** Rounds of every workload; each round runs cold, no-op and one-file change for every tool. */
  rounds: number;
  /** Workload names, in the order they run. */
  workloads: string[];
  tools: ToolName[];
  quick: boolean;
  /** Where contexts and tool state go: the contexts stay after the run when given; else a temporary directory, removed. */
  workDir?: string;
  /** Directory of the results JSON and Markdown. */
  resultsDir?: string;
  /** The gantry CLI to time (its main.js, or an executable); this checkout's build by default. */
  gantry?: string;
  /**
   * The network of gantry's RUN steps. `host` by default, as Buildah and BuildKit run here (the Docker
   * engine has no bridge); `default` times gantry's sandbox network (slirp4netns), what users get.
   */
  gantryNetwork: GantryNetwork;
  help: boolean;
}

export const FULL_ROUNDS = 5;
export const QUICK_ROUNDS = 1;

const OPTION_HELP: ReadonlyArray<[flag: string, meaning: string, variable: string]> = [
  ['--rounds N', `rounds per workload (default ${FULL_ROUNDS}; ${QUICK_ROUNDS} when quick)`, 'GANTRY_BENCH_ROUNDS'],
  ['--workloads A,B', 'workloads to run (default: all)', 'GANTRY_BENCH_WORKLOADS'],
  ['--tools A,B', `among ${TOOL_NAMES.join(', ')} (default: all)`, 'GANTRY_BENCH_TOOLS'],
  ['--quick', 'a smoke run: fewer rounds', 'GANTRY_BENCH_QUICK=1'],
  ['--work-dir DIR', 'work in DIR and keep the contexts there', 'GANTRY_BENCH_WORK_DIR'],
  ['--results DIR', 'where results go (default: bench/results)', 'GANTRY_BENCH_RESULTS'],
  ['--gantry PATH', "gantry CLI to time (default: this checkout's)", 'GANTRY_BENCH_GANTRY'],
  ['--gantry-network N', "gantry's RUN network: host (default, as the others), default or none", 'GANTRY_BENCH_GANTRY_NETWORK'],
  ['-h, --help', 'show this help', ''],
];

export const USAGE = `Usage: npm run bench -- [options]

Times gantry, Buildah and BuildKit on generated workloads: cold, no-op and one-file-change builds,
tools alternating within each round; prints medians and ratios to each workload's baseline (BuildKit;
Buildah for the multi-platform build, which BuildKit takes no part in) and writes the raw numbers to
bench/results/. The multi-platform workload registers QEMU's binfmt handlers first (gantry setup binfmt).

Options (a flag wins over its environment variable):
${OPTION_HELP.map(([flag, meaning, variable]) => `  ${flag.padEnd(20)} ${meaning.padEnd(48)} ${variable}`.trimEnd()).join('\n')}
`;

/** Parses flags and environment; `knownWorkloads` lists the valid names, in their default order. */
export function parseBenchOptions(argv: string[], env: NodeJS.ProcessEnv, knownWorkloads: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        rounds: { type: 'string' },
        workloads: { type: 'string' },
        tools: { type: 'string' },
        quick: { type: 'boolean' },
        'work-dir': { type: 'string' },
        results: { type: 'string' },
        gantry: { type: 'string' },
        'gantry-network': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new GantryError((err as Error).message, { hint: 'npm run bench -- --help lists the options' });
  }

  const quick = parsed.quick ?? isTruthy(env.GANTRY_BENCH_QUICK, 'GANTRY_BENCH_QUICK');
  const roundsText = parsed.rounds ?? env.GANTRY_BENCH_ROUNDS;
  const rounds = roundsText === undefined || roundsText === '' ? (quick ? QUICK_ROUNDS : FULL_ROUNDS) : parseRounds(roundsText);
  const workloads = parseList(parsed.workloads ?? env.GANTRY_BENCH_WORKLOADS, knownWorkloads, 'workload');
  const tools = parseList(parsed.tools ?? env.GANTRY_BENCH_TOOLS, TOOL_NAMES, 'tool');
  return {
    rounds,
    workloads,
    tools,
    quick,
    workDir: nonEmpty(parsed['work-dir'] ?? env.GANTRY_BENCH_WORK_DIR),
    resultsDir: nonEmpty(parsed.results ?? env.GANTRY_BENCH_RESULTS),
    gantry: nonEmpty(parsed.gantry ?? env.GANTRY_BENCH_GANTRY),
    gantryNetwork: parseGantryNetwork(nonEmpty(parsed['gantry-network'] ?? env.GANTRY_BENCH_GANTRY_NETWORK) ?? 'host'),
    help: parsed.help ?? false,
  };
}

function parseGantryNetwork(text: string): GantryNetwork {
  if (!(GANTRY_NETWORKS as readonly string[]).includes(text)) throw new GantryError(`unknown gantry network "${text}"`, { hint: `choose one of ${GANTRY_NETWORKS.join(', ')}` });
  return text as GantryNetwork;
}

function parseRounds(text: string): number {
  const rounds = Number(text);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new GantryError(`rounds "${text}" is not a whole number of at least 1`, { hint: 'e.g. --rounds 5' });
  }
  return rounds;
}

/** A comma-separated selection from `known`, kept in `known`'s order; all of `known` when absent. */
function parseList<T extends string>(text: string | undefined, known: readonly T[], what: string): T[] {
  if (text === undefined || text.trim() === '') return [...known];
  const wanted = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of wanted) {
    if (!(known as readonly string[]).includes(name)) {
      throw new GantryError(`unknown ${what} "${name}"`, { hint: `choose among ${known.join(', ')}` });
    }
  }
  return known.filter((name) => wanted.includes(name));
}

function isTruthy(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new GantryError(`${name}="${value}" is neither 1 nor 0`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
