/**
 * SIGKILL at a random moment of every store-writing command. Each scenario's command is timed once
 * uninterrupted; each trial kills it at a seeded moment within that time, then runs a next command of
 * a random kind and reruns the killed one. Both must succeed; the commands whose job it is clean up
 * what the dead process left (build, run: mounts and writable snapshots; a build's RUN: containers and
 * bundles; prune: everything, including temp files); the store verifies after every step; an output is
 * absent or whole (loadable, or listing every entry) and never half-written under its final name.
 */
import { lstat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Random, lastLines, runGantry } from '../lib.js';
import type { AttackSuite, Finding, SuiteOptions, SuiteResult } from '../suite.js';
import {
  allLeftovers,
  busyboxRootfsTar,
  containerLeftovers,
  createLab,
  execFileAsync,
  familiar,
  gantryOk,
  mustSucceed,
  outputProblem,
  readIndexNames,
  rootfsListing,
  runKilled,
  snapshotLeftovers,
  startRegistry,
  storeProblems,
  uniqueText,
  writeTree,
  type Lab,
  type OutputKind,
} from './faults-support.js';

/** What a command removes of a dead process's leftovers. */
type Cleans = 'nothing' | 'snapshots' | 'containers' | 'everything';

interface KillLab extends Lab {
  registry: string;
  context: string;
  loadArchive: string;
  importTar: string;
}

interface Scenario {
  name: string;
  /** Brings the store to where the command starts from, before the timing run and each trial. */
  reset?(lab: KillLab): Promise<void>;
  args(lab: KillLab, trial: number): string[];
  cleans: Cleans;
  output?: { path(lab: KillLab): string; kind: OutputKind };
}

const build = (file: string, ...extra: string[]) => (lab: KillLab) => ['build', '--progress', 'plain', '--no-cache', '-f', join(lab.context, file), ...extra, lab.context];

/** Removes an image name and what only it used, so the next command really writes its content. */
const forget = (name: (lab: KillLab) => string) => async (lab: KillLab) => {
  await runGantry(lab.root, ['rmi', name(lab)]);
  await gantryOk(lab.root, ['prune', '--keep-cache']);
};

const removeOutput = (path: (lab: KillLab) => string) => async (lab: KillLab) => rm(path(lab), { recursive: true, force: true });

const out = (name: string) => (lab: KillLab) => join(lab.work, 'out', name);

const SCENARIOS: Scenario[] = [
  { name: 'build COPY', args: (lab) => build('copy.Dockerfile', '-t', 'kill-copy:1')(lab), cleans: 'nothing' },
  { name: 'build RUN', args: (lab) => build('run.Dockerfile', '-t', 'kill-run:1')(lab), cleans: 'containers' },
  { name: 'build multi-stage', args: (lab) => build('multi.Dockerfile', '-t', 'kill-multi:1')(lab), cleans: 'containers' },
  {
    name: 'build --cache-to type=local',
    args: (lab) => build('run.Dockerfile', '-t', 'kill-cache:1', '--cache-to', `type=local,dest=${out('cache')(lab)},mode=max`)(lab),
    cleans: 'containers',
    output: { path: out('cache'), kind: 'cache-dir' },
  },
  ...(
    [
      ['oci', 'oci.tar', 'oci-tar'],
      ['docker', 'docker.tar', 'docker-tar'],
      ['oci', 'oci-dir/', 'oci-dir'],
      ['local', 'rootfs', 'rootfs-dir'],
      ['tar', 'rootfs.tar', 'rootfs-tar'],
    ] as const
  ).map(([type, dest, kind]): Scenario => ({
    name: `build -o type=${type}${dest.endsWith('/') ? ' (directory)' : ''}`,
    reset: removeOutput(out(dest)),
    args: (lab) => build('copy.Dockerfile', '-t', `kill-out-${kind}:1`, '-o', `type=${type},dest=${out(dest)(lab)}${dest.endsWith('/') ? '/' : ''}`)(lab),
    cleans: 'nothing',
    output: { path: out(dest), kind },
  })),
  { name: 'import', args: (lab) => ['import', lab.importTar, 'kill-import:1'], cleans: 'nothing' },
  { name: 'load', reset: forget(() => 'kill-loadsrc:1'), args: (lab) => ['load', '-q', lab.loadArchive], cleans: 'nothing' },
  { name: 'save', reset: removeOutput(out('save.tar')), args: (lab) => ['save', '-o', out('save.tar')(lab), 'kill-big:1'], cleans: 'nothing', output: { path: out('save.tar'), kind: 'docker-tar' } },
  {
    name: 'save --format oci (directory)',
    reset: removeOutput(out('save-oci')),
    args: (lab) => ['save', '--format', 'oci', '-o', `${out('save-oci')(lab)}/`, 'kill-big:1'],
    cleans: 'nothing',
    output: { path: out('save-oci'), kind: 'oci-dir' },
  },
  { name: 'pull', reset: forget((lab) => `${lab.registry}/kill/pull:1`), args: (lab) => ['pull', '-q', `${lab.registry}/kill/pull:1`], cleans: 'nothing' },
  { name: 'push', args: (lab, trial) => ['push', '-q', 'kill-big:1', `${lab.registry}/kill/push-${trial}:1`], cleans: 'nothing' },
  { name: 'tag', args: (_lab, trial) => ['tag', 'kill-big:1', `kill-tag-${trial}:1`], cleans: 'nothing' },
  { name: 'rmi', reset: async (lab) => void (await gantryOk(lab.root, ['tag', 'kill-big:1', 'kill-rmi:1'])), args: () => ['rmi', 'kill-rmi:1'], cleans: 'nothing' },
  {
    name: 'prune',
    // Gives prune something to delete: an untagged image and build cache.
    reset: async (lab) => void (await gantryOk(lab.root, build('run.Dockerfile')(lab))),
    args: () => ['prune'],
    cleans: 'everything',
  },
  { name: 'manifest create --local', args: (_lab, trial) => ['manifest', 'create', '--local', `kill-index-${trial}:1`, 'kill-big:1', 'kill-arm:1'], cleans: 'nothing' },
  { name: 'build --push', args: (lab, trial) => build('copy.Dockerfile', '-t', `${lab.registry}/kill/built-${trial}:1`, '--push')(lab), cleans: 'nothing' },
];

/** Commands run right after a kill; each must succeed and clean up what it is responsible for. */
const NEXT: Array<{ name: string; args(lab: KillLab): string[]; cleans: Cleans }> = [
  { name: 'images', args: () => ['images'], cleans: 'nothing' },
  { name: 'tag', args: () => ['tag', 'kill-big:1', 'kill-next:1'], cleans: 'nothing' },
  { name: 'build', args: (lab) => ['build', '--progress', 'plain', '--no-cache', '-t', 'kill-next-build:1', '-f', join(lab.context, 'small.Dockerfile'), lab.context], cleans: 'containers' },
  { name: 'run', args: () => ['run', 'kill-big:1', 'true'], cleans: 'snapshots' },
  { name: 'prune', args: () => ['prune', '--keep-cache'], cleans: 'everything' },
];

async function leftoversFor(root: string, cleans: Cleans): Promise<string[]> {
  switch (cleans) {
    case 'nothing':
      return [];
    case 'snapshots':
      return snapshotLeftovers(root);
    case 'containers':
      return [...(await snapshotLeftovers(root)), ...(await containerLeftovers(root))];
    case 'everything':
      return allLeftovers(root);
  }
}

async function setUp(options: SuiteOptions): Promise<{ lab: KillLab; stop(): Promise<void> }> {
  const base = await createLab(options.workDir);
  const registry = await startRegistry();
  const context = join(base.work, 'context');
  await writeTree(context, {
    'big.bin': { content: Buffer.from(uniqueText(3 << 20), 'hex') },
    'small/a.txt': 'a\n',
    'small/b.txt': 'b\n',
    'copy.Dockerfile': 'FROM busybox:latest\nCOPY big.bin /data/big.bin\nCOPY small/ /data/small/\n',
    'run.Dockerfile': 'FROM busybox:latest\nRUN head -c 3000000 /dev/urandom > /r1 && sleep 0.2\nRUN echo done > /done\n',
    'multi.Dockerfile': 'FROM busybox:latest AS gen\nRUN head -c 2000000 /dev/urandom > /gen.bin\nFROM busybox:latest\nCOPY --from=gen /gen.bin /gen.bin\nCOPY small/ /small/\n',
    'small.Dockerfile': 'FROM busybox:latest\nRUN echo next > /next\n',
    'src.Dockerfile': 'FROM busybox:latest\nRUN head -c 3000000 /dev/urandom > /src.bin\n',
  });
  const lab: KillLab = { ...base, registry: registry.host, context, loadArchive: join(base.work, 'load.tar'), importTar: join(base.work, 'import.tar') };
  await gantryOk(lab.root, build('copy.Dockerfile', '-t', 'kill-big:1')(lab));
  // Images whose content the store then forgets, so that loading or pulling them writes it again.
  await gantryOk(lab.root, build('src.Dockerfile', '-t', 'kill-loadsrc:1')(lab));
  await gantryOk(lab.root, ['save', '-o', lab.loadArchive, 'kill-loadsrc:1']);
  await gantryOk(lab.root, build('src.Dockerfile', '-t', `${lab.registry}/kill/pull:1`, '--push')(lab));
  await gantryOk(lab.root, ['rmi', 'kill-loadsrc:1', `${lab.registry}/kill/pull:1`]);
  await gantryOk(lab.root, ['prune']);
  const rootfs = await busyboxRootfsTar();
  await gantryOk(lab.root, ['import', '--platform', 'linux/arm64', rootfs, 'kill-arm:1']);
  // import.tar: the busybox root filesystem plus the big file, so an import takes long enough to be hit.
  await execFileAsync('sh', ['-c', 'cp "$1" "$3" && tar -rf "$3" -C "$2" big.bin', 'sh', rootfs, context, lab.importTar]);
  return { lab, stop: () => registry.stop() };
}

const suite: AttackSuite = {
  name: 'kill',
  title: 'SIGKILL at random moments of every store-writing command: the store stays whole and the next commands work',
  needsRoot: true,
  async run(options: SuiteOptions): Promise<SuiteResult> {
    const random = new Random(options.seed);
    const findings: Finding[] = [];
    const figures = { kills: 0, 'finished before the kill': 0, 'next commands': 0, reruns: 0, prunes: 0, 'images run': 0, 'outputs checked': 0 };
    let tried = 0;
    let handled = 0;
    const { lab, stop } = await setUp(options);
    const scratch = join(options.workDir, 'scratch-store');
    try {
      const chosen = options.scale === 'full' ? SCENARIOS.flatMap((s) => [s, s, s]) : pickDistinct(random, SCENARIOS, 10);
      const reported = new Set<string>();
      const timings = new Map<Scenario, { ms: number; reference?: string[] }>();
      for (const [i, scenario] of chosen.entries()) {
        const trial = i + 1;
        if (!timings.has(scenario)) {
          await scenario.reset?.(lab);
          const timed = await gantryOk(lab.root, scenario.args(lab, 0));
          const reference = scenario.output && (scenario.output.kind === 'rootfs-dir' || scenario.output.kind === 'rootfs-tar') ? await rootfsListing(scenario.output.path(lab), scenario.output.kind) : undefined;
          timings.set(scenario, { ms: timed.ms, reference });
        }
        const { ms, reference } = timings.get(scenario)!;
        tried++;
        const before = findings.length;
        const input = `trial ${trial}: ${scenario.name}`;
        await scenario.reset?.(lab);
        const at = Math.floor(random.next() * ms);
        const killed = await runKilled(lab.root, scenario.args(lab, trial), at);
        if (killed.killed) figures.kills++;
        else {
          figures['finished before the kill']++;
          const failed = mustSucceed(killed.outcome, `${input} (not killed)`);
          if (failed) findings.push(failed);
        }
        const label = `${input}, killed at ${at} of ${ms} ms`;
        const check = async (step: string, cleans: Cleans): Promise<void> => {
          for (const problem of await storeProblems(lab.root)) findings.push({ kind: 'corrupt', input: `${label}; ${step}`, detail: problem });
          // Each leftover is reported once, by the first command that should have removed it.
          const left = (await leftoversFor(lab.root, cleans)).filter((entry) => !reported.has(entry));
          for (const entry of left) reported.add(entry);
          if (left.length > 0) findings.push({ kind: 'corrupt', input: `${label}; ${step}`, detail: `left behind: ${left.slice(0, 6).join(', ')}${left.length > 6 ? ` (+${left.length - 6})` : ''}` });
        };
        await check('after the kill', 'nothing');
        if (scenario.output) {
          figures['outputs checked']++;
          const problem = await outputProblem(scenario.output.path(lab), scenario.output.kind, scratch, reference);
          if (problem) findings.push({ kind: 'corrupt', input: label, detail: `half-written output: ${problem}` });
        }

        const next = random.pick(NEXT);
        figures['next commands']++;
        const nextOutcome = await runGantry(lab.root, next.args(lab), { timeoutMs: 120_000 });
        const nextFailed = mustSucceed(nextOutcome, `${label}; next command ${next.name}`);
        if (nextFailed) findings.push(nextFailed);
        await check(`after the next command (${next.name})`, next.cleans);

        await scenario.reset?.(lab);
        figures.reruns++;
        const rerun = await runGantry(lab.root, scenario.args(lab, trial), { timeoutMs: 180_000 });
        const rerunFailed = mustSucceed(rerun, `${label}; rerun`);
        if (rerunFailed) findings.push(rerunFailed);
        await check('after the rerun', scenario.cleans);
        if (scenario.output) {
          const problem = (await outputProblem(scenario.output.path(lab), scenario.output.kind, scratch, reference)) ?? ((await pathMissing(scenario.output.path(lab))) ? 'it is missing' : undefined);
          if (problem) findings.push({ kind: 'corrupt', input: `${label}; rerun`, detail: `output after the rerun: ${problem}` });
        }

        if (random.int(3) === 0 || i === chosen.length - 1) {
          figures['images run']++;
          const names = [...(await readIndexNames(lab.root)).names.keys()].filter((name) => /kill-(big|copy|run|multi|cache|import|out-|tag-|index-|next)/.test(name));
          const image = familiar(random.pick(names));
          const ran = await runGantry(lab.root, ['run', image, 'true'], { timeoutMs: 60_000 });
          if (ran.code !== 0) findings.push({ kind: 'corrupt', input: `${label}; gantry run ${image} true`, detail: `a named image does not run: ${lastLines(ran.stderr)}` });
        }
        if (random.int(4) === 0 || i === chosen.length - 1) {
          figures.prunes++;
          const pruned = await runGantry(lab.root, ['prune', '--keep-cache'], { timeoutMs: 120_000 });
          const pruneFailed = mustSucceed(pruned, `${label}; prune`);
          if (pruneFailed) findings.push(pruneFailed);
          await check('after prune', 'everything');
        }
        if (findings.length === before) handled++;
        options.log(`${label}: ${killed.killed ? 'killed' : 'finished first'}, next ${next.name}${findings.length > before ? `, ${findings.length - before} findings` : ''}`);
      }
    } finally {
      await stop();
    }
    return { unit: 'SIGKILL trials', tried, handled, findings, figures: { ...figures, scenarios: SCENARIOS.length } };
  },
};

export default suite;

function pickDistinct<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const picked: T[] = [];
  while (picked.length < count && pool.length > 0) picked.push(pool.splice(random.int(pool.length), 1)[0]);
  return picked;
}

async function pathMissing(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) === undefined;
}
