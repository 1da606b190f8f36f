/**
 * `npm run bench`: times gantry, Buildah and BuildKit side by side on generated workloads.
 *
 * Every round of a workload starts each tool cold (an empty store and cache with only the base image
 * imported), then times three builds per tool: cold, no-op (the same build again) and one-file change
 * (one source file's content changed). Within a scenario the tools take turns, in an order that
 * rotates from round to round. Before each timed build, outside the timing, writes are flushed
 * (`sync`) and the harness waits for a quiet machine (under 5% CPU busy over 300 ms). After a build
 * of a workload with a check, each platform's image is checked (untimed); a wrong image fails the build.
 * Results: a table on stdout, raw numbers and the table under bench/results/.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { formatGantryError, GantryError, isGantryError } from '../src/util/errors.js';
import { busyboxRootfsTar } from '../test/helpers/base-image.js';
import { checkImages } from './check.js';
import { waitForIdle } from './idle.js';
import { describeMachine } from './machine.js';
import { removeStateDir } from './mounts.js';
import { parseBenchOptions, USAGE, type BenchOptions, type ToolName } from './options.js';
import { describeCommand, stopCurrentCommand, timeCommand } from './process.js';
import { formatMiB, formatSeconds, type ToolReport, type UnavailableTool } from './report.js';
import { renderResults, withSummaries } from './results.js';
import { rotate } from './schedule.js';
import type { Sample } from './stats.js';
import { openBuildah } from './tools/buildah.js';
import { openBuildKit } from './tools/buildkit.js';
import { openGantry, setupEmulation } from './tools/gantry.js';
import { architectureOf, type BuildRequest, type BuildTool, type ToolSetting } from './tools/tool.js';
import { changeOneFile, dockerfileOf, generateContext, SCENARIOS, WORKLOADS, type Scenario, type Workload } from './workloads.js';

const execFileAsync = promisify(execFile);
const defaultResultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));

function openTool(name: ToolName, setting: ToolSetting, options: BenchOptions): Promise<BuildTool> {
  switch (name) {
    case 'gantry':
      return openGantry(setting, options.gantryNetwork, options.gantry);
    case 'buildah':
      return openBuildah(setting);
    case 'buildkit':
      return openBuildKit(setting);
  }
}

let interrupted = false;
const benchStarted = performance.now();

/** Progress on stderr, stamped with the seconds since the start. */
function log(message: string): void {
  const elapsed = ((performance.now() - benchStarted) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${elapsed}s] ${message}\n`);
}

async function main(): Promise<number> {
  const options = parseBenchOptions(process.argv.slice(2), process.env, WORKLOADS.map((w) => w.name));
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    throw new GantryError('the benchmark needs root: every tool runs RUN steps in containers with their own mounts', { hint: 'run it as root' });
  }
  if (!existsSync('/usr/bin/time')) {
    throw new GantryError("/usr/bin/time is missing; it measures each build's peak memory", { hint: 'apt-get install time' });
  }
  const platform = hostPlatform();
  const workloads = options.workloads.map((name) => WORKLOADS.find((w) => w.name === name) as Workload);
  const workDir = options.workDir ? resolve(options.workDir) : await mkdtemp(join(tmpdir(), 'gantry-bench-'));
  await mkdir(workDir, { recursive: true });
  const tools: BuildTool[] = [];
  const trashDir = join(workDir, 'trash');
  const onSignal = (signal: NodeJS.Signals) => {
    log(`bench: ${signal}, stopping`);
    interrupted = true;
    stopCurrentCommand();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const started = new Date();
    const platforms = new Set([platform, ...workloads.flatMap((w) => w.platforms ?? [])]);
    const baseRootfsTars = new Map<string, string>();
    for (const each of platforms) baseRootfsTars.set(each, await busyboxRootfsTar(baseArchitecture(each)));
    if (platforms.size > 1) {
      // Once, before anything is timed: RUN steps of the foreign platform need QEMU's handlers.
      log(`bench: ${(await setupEmulation(options.gantry)).split('\n').join('; ')}`);
    }
    const unavailable: UnavailableTool[] = [];
    // A tool no chosen workload compares is not opened (BuildKit's daemon, for the multi-platform workload alone).
    for (const name of options.tools.filter((tool) => workloads.some((w) => w.tools.includes(tool)))) {
      try {
        tools.push(await openTool(name, { stateDir: join(workDir, 'state', name), trashDir, baseRootfsTars, hostPlatform: platform }, options));
      } catch (err) {
        // Only a comparison tool may be missing; without gantry there is nothing to measure.
        if (name === 'gantry' || !isGantryError(err)) throw err;
        log(`bench: ${err.message.split('\n')[0]}; going on without it`);
        unavailable.push({ name, reason: err.message });
      }
    }
    const toolReports: ToolReport[] = [];
    for (const tool of tools) {
      const buildCommand = describeCommand(tool.buildCommand({ contextDir: 'CONTEXT', tag: 'TAG' }));
      const severalPlatforms = workloads.find((w) => w.platforms !== undefined && w.tools.includes(tool.name))?.platforms;
      const platformsBuildCommand = severalPlatforms && describeCommand(tool.buildCommand({ contextDir: 'CONTEXT', tag: 'TAG', platforms: severalPlatforms }));
      toolReports.push({
        name: tool.name,
        title: tool.title,
        setup: tool.setup,
        buildCommand,
        ...(platformsBuildCommand ? { platformsBuildCommand } : {}),
        versions: await tool.versions(),
      });
    }
    const samples = await runRounds(workloads, tools, options.rounds, workDir);

    const results = withSummaries({
      startedAt: started.toISOString(),
      finishedAt: new Date().toISOString(),
      options: { rounds: options.rounds, quick: options.quick, workloads: options.workloads, tools: options.tools },
      machine: await describeMachine(workDir),
      tools: toolReports,
      unavailable,
      workloads: workloads.map((w) => ({
        name: w.name,
        summary: w.summary,
        tools: w.tools,
        baseline: w.baseline,
        targets: w.targets,
        changedFile: w.changedFile,
        dockerfile: dockerfileOf(w),
        ...(w.platforms ? { platforms: w.platforms } : {}),
        ...(w.leftOut ? { leftOut: w.leftOut } : {}),
      })),
      samples,
    });
    const report = renderResults(results);
    const resultsDir = options.resultsDir ? resolve(options.resultsDir) : defaultResultsDir;
    await mkdir(resultsDir, { recursive: true });
    const stamp = `bench-${started.toISOString().replace(/[:.]/g, '-')}`;
    const jsonPath = join(resultsDir, `${stamp}.json`);
    await writeFile(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(join(resultsDir, `${stamp}.md`), report);
    process.stdout.write(`\n${report}\nRaw numbers: ${jsonPath}\n`);
    return 0;
  } finally {
    for (const tool of tools) {
      await tool.close().catch((err: unknown) => log(`bench: could not clean up after ${tool.title}: ${(err as Error).message}`));
    }
    await removeStateDir(trashDir).catch((err: unknown) => log(`bench: could not remove ${trashDir}: ${(err as Error).message}`));
    if (!options.workDir) await rm(workDir, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Generates each tool's copy of every context, then times every round. */
async function runRounds(workloads: readonly Workload[], tools: readonly BuildTool[], rounds: number, workDir: string): Promise<Sample[]> {
  const contextOf = (tool: BuildTool, workload: Workload) => join(workDir, 'contexts', tool.name, workload.name);
  for (const workload of workloads) {
    log(`bench: generating ${workload.name} (${workload.summary})`);
    for (const tool of tools) {
      await rm(contextOf(tool, workload), { recursive: true, force: true });
      await generateContext(workload, contextOf(tool, workload));
    }
  }
  const samples: Sample[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const [index, workload] of workloads.entries()) {
      const taking = rotate(tools.filter((t) => workload.tools.includes(t.name)), round - 1 + index);
      log(`bench: round ${round}/${rounds} ${workload.name}: resetting ${taking.map((t) => t.name).join(', ')} to the base image`);
      for (const tool of taking) await tool.resetToBase(workload.platforms);
      for (const scenario of SCENARIOS) {
        if (scenario === 'change') for (const tool of taking) await changeOneFile(workload, contextOf(tool, workload), round);
        for (const tool of taking) {
          if (interrupted) throw new GantryError('interrupted');
          const sample = await timeBuild(tool, contextOf(tool, workload), workload, scenario, round);
          samples.push(sample);
          const outcome = sample.error === undefined ? `${formatSeconds(sample.seconds).padStart(7)} s` : 'FAILED';
          log(
            `bench: round ${round}/${rounds} ${workload.name} ${scenario.padEnd(6)} ${tool.name.padEnd(8)} ${outcome}` +
              `  peak ${formatMiB(Math.max(sample.peakTreeRssKiB, sample.maxProcessRssKiB))}`,
          );
          if (sample.error !== undefined) log(indent(sample.error));
        }
      }
    }
  }
  return samples;
}

/**
 * Prepares the tool, flushes writes and waits for a quiet machine (all untimed), then times one
 * build; a build the workload's check finds wrong counts as failed.
 */
async function timeBuild(tool: BuildTool, contextDir: string, workload: Workload, scenario: Scenario, round: number): Promise<Sample> {
  const request: BuildRequest = { contextDir, tag: `bench-${workload.name}:latest`, ...(workload.platforms ? { platforms: workload.platforms } : {}) };
  await tool.beforeBuild?.(request);
  await execFileAsync('sync');
  const quietStart = await waitForIdle();
  if (!quietStart) log('bench: the machine did not quieten down; timing anyway');
  const run = await timeCommand(tool.buildCommand(request), `${tool.title} ${scenario} build of ${workload.name}`);
  if (run.error === undefined) {
    const wrong = await checkImages(tool, workload, request.tag, hostPlatform());
    if (wrong !== undefined) run.error = `${tool.title} ${scenario} build of ${workload.name} made a wrong image\n${wrong}`;
  }
  return { round, workload: workload.name, scenario, tool: tool.name, quietStart, ...run };
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line}`).join('\n');
}

/** The architecture of a platform the base image is made for. */
function baseArchitecture(platform: string): 'amd64' | 'arm64' {
  const architecture = architectureOf(platform);
  if (architecture !== 'amd64' && architecture !== 'arm64') {
    throw new GantryError(`the benchmark's base image is made for amd64 and arm64, not ${platform}`);
  }
  return architecture;
}

function hostPlatform(): string {
  switch (process.arch) {
    case 'x64':
      return 'linux/amd64';
    case 'arm64':
      return 'linux/arm64';
    default:
      throw new GantryError(`the benchmark's base image is made for amd64 and arm64, not ${process.arch}`);
  }
}

main().then(
  (code) => {
    process.exitCode = interrupted ? 130 : code;
  },
  (err: unknown) => {
    if (isGantryError(err)) log(`bench: ${formatGantryError(err)}`);
    else log(`bench: ${(err as Error)?.stack ?? String(err)}`);
    process.exitCode = interrupted ? 130 : 1;
  },
);
