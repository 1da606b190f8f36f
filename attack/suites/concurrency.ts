/**
 * Commands at the same time on one store: rounds of build, build --push, import, load and pull with
 * prune started among them, two builds of the same new Dockerfile at once, and a build racing `rmi`
 * (and prune) of its base image. Nothing may fail except the build whose base was removed before it
 * looked (with a clear error); afterwards every blob verifies, every name a successful command gave is
 * present and points at what that command reported, and those images run and hold their content.
 */
import { join } from 'node:path';
import { Random, lastLines, runGantry, type CommandOutcome } from '../lib.js';
import type { AttackSuite, Finding, SuiteOptions, SuiteResult } from '../suite.js';
import { busyboxRootfsTar, createLab, familiar, gantryOk, mustSucceed, readIndexNames, startRegistry, storeProblems, uniqueText, writeTree, type Lab } from './faults-support.js';

interface ConcurrencyLab extends Lab {
  registry: string;
  archive: string;
  rootfs: string;
  /** What `gantry pull` and `gantry load` of the prepared images must name, and the digests. */
  pulled: { name: string; digest: string };
  loaded: { name: string; digest: string };
}

/** A command of a round: what it runs, and the image name it gives with the content it must hold. */
interface Launch {
  kind: string;
  args: string[];
  /** The name given, and a file with its expected content (checked with `gantry run`). */
  names?: { name: string; file?: string; content?: string };
  /** A clear failure is acceptable (the build whose base is removed under it). */
  mayFail?: boolean;
  /** The digest the name must point at, when known before the command runs. */
  digest?: string;
}

async function uniqueBuild(lab: ConcurrencyLab, tag: string, extra: string[] = [], from = 'busybox:latest'): Promise<Launch> {
  const content = uniqueText();
  const context = join(lab.work, `ctx-${content}`);
  await writeTree(context, { 'u.txt': `${content}\n`, Dockerfile: `FROM ${from}\nCOPY u.txt /u.txt\nRUN cp /u.txt /copy.txt\n` });
  return { kind: extra.includes('--push') ? 'build --push' : 'build', args: ['build', '-q', '-t', tag, ...extra, context], names: { name: tag, file: '/copy.txt', content: `${content}\n` } };
}

async function randomLaunch(lab: ConcurrencyLab, random: Random, id: string): Promise<Launch> {
  switch (random.int(5)) {
    case 0:
      return uniqueBuild(lab, `cc-build-${id}:1`);
    case 1:
      return uniqueBuild(lab, `${lab.registry}/cc/pushed-${id}:1`, ['--push']);
    case 2: {
      const label = uniqueText();
      return { kind: 'import', args: ['import', '--change', `LABEL round=${label}`, lab.rootfs, `cc-import-${id}:1`], names: { name: `cc-import-${id}:1`, file: '/bin/busybox' } };
    }
    case 3:
      return { kind: 'load', args: ['load', '-q', lab.archive], names: { name: lab.loaded.name, file: '/src.bin' }, digest: lab.loaded.digest };
    default:
      return { kind: 'pull', args: ['pull', '-q', lab.pulled.name], names: { name: lab.pulled.name, file: '/src.bin' }, digest: lab.pulled.digest };
  }
}

async function setUp(options: SuiteOptions): Promise<{ lab: ConcurrencyLab; stop(): Promise<void> }> {
  const base = await createLab(options.workDir);
  const registry = await startRegistry();
  try {
    const context = join(base.work, 'src');
    await writeTree(context, { Dockerfile: 'FROM busybox:latest\nRUN head -c 2000000 /dev/urandom > /src.bin\n' });
    const pulledName = `${registry.host}/cc/src:1`;
    const built = await gantryOk(base.root, ['build', '-q', '-t', pulledName, '--push', context]);
    await gantryOk(base.root, ['tag', pulledName, 'cc-loadsrc:1']);
    const digest = built.stdout.trim();
    const archive = join(base.work, 'src.tar');
    await gantryOk(base.root, ['save', '-o', archive, 'cc-loadsrc:1']);
    await gantryOk(base.root, ['rmi', 'cc-loadsrc:1', pulledName]);
    await gantryOk(base.root, ['prune']);
    const lab: ConcurrencyLab = {
      ...base,
      registry: registry.host,
      archive,
      rootfs: await busyboxRootfsTar(),
      pulled: { name: pulledName, digest },
      loaded: { name: 'cc-loadsrc:1', digest },
    };
    return { lab, stop: () => registry.stop() };
  } catch (err) {
    await registry.stop();
    throw err;
  }
}

/** The digest a command reported for the name it gave (build -q and import print it; load and pull are known). */
function reportedDigest(launch: Launch, outcome: CommandOutcome): string | undefined {
  if (launch.digest) return launch.digest;
  return /sha256:[a-f0-9]{64}/.exec(outcome.stdout)?.[0];
}

const suite: AttackSuite = {
  name: 'concurrency',
  title: 'build, build --push, import, load and pull at the same time as prune and each other on one store',
  needsRoot: true,
  async run(options: SuiteOptions): Promise<SuiteResult> {
    const random = new Random(options.seed);
    const findings: Finding[] = [];
    const figures = { rounds: 0, prunes: 0, 'same-Dockerfile pairs': 0, 'rmi races': 0, 'images checked': 0, 'images run': 0 };
    let tried = 0;
    let handled = 0;
    const { lab, stop } = await setUp(options);
    /** Every name a successful command gave, with what it must hold. */
    const expected = new Map<string, { digest?: string; file?: string; content?: string; by: string }>();
    const rounds = options.scale === 'full' ? 14 : 3;
    /** Rounds of each special race, after the mixed rounds, alternating. */
    const specials = options.scale === 'full' ? 4 : 1;
    try {
      for (let round = 1; round <= rounds + 2 * specials; round++) {
        figures.rounds++;
        const launches: Launch[] = [];
        let special = '';
        if (round > rounds && (round - rounds) % 2 === 1) {
          // Two builds of one new Dockerfile at once: both compute and commit the same steps.
          special = 'same Dockerfile twice';
          figures['same-Dockerfile pairs']++;
          const first = await uniqueBuild(lab, `cc-same-${round}-a:1`);
          const context = first.args[first.args.length - 1];
          launches.push(first, { ...first, args: ['build', '-q', '-t', `cc-same-${round}-b:1`, context], names: { ...first.names!, name: `cc-same-${round}-b:1` } });
        } else if (round > rounds) {
          // A build racing the removal of its base (and a prune that then collects it).
          special = 'build racing rmi of its base';
          figures['rmi races']++;
          const baseName = `${lab.registry}/cc/base-${round}:1`;
          await gantryOk(lab.root, ['tag', 'busybox:latest', baseName]);
          const raced = await uniqueBuild(lab, `cc-raced-${round}:1`, [], baseName);
          launches.push({ ...raced, mayFail: true }, { kind: 'rmi', args: ['rmi', baseName] });
        } else {
          const count = 2 + random.int(3);
          for (let i = 0; i < count; i++) launches.push(await randomLaunch(lab, random, `${round}-${i}`));
        }
        const pruneArgs = random.int(2) === 0 ? ['prune'] : ['prune', '--keep-cache'];
        launches.push({ kind: pruneArgs.join(' '), args: pruneArgs });
        figures.prunes++;
        // Started a few milliseconds apart, in a random order, so prune lands before, among and after the others.
        const order = launches.map((launch) => ({ launch, delay: random.int(400) }));
        const outcomes = await Promise.all(
          order.map(async ({ launch, delay }) => {
            await new Promise((resolve) => setTimeout(resolve, delay));
            return { launch, outcome: await runGantry(lab.root, launch.args, { timeoutMs: 180_000 }) };
          }),
        );
        for (const { launch, outcome } of outcomes) {
          tried++;
          const input = `round ${round}${special ? ` (${special})` : ''}: ${launch.kind} ${launch.names?.name ?? ''}`.trim();
          const failed = launch.mayFail && outcome.code === 1 && /^error: /m.test(outcome.stderr) && !/internal error/.test(outcome.stderr) ? undefined : mustSucceed(outcome, input);
          if (failed) {
            findings.push(failed);
            continue;
          }
          handled++;
          if (outcome.code === 0 && launch.names) {
            const digest = reportedDigest(launch, outcome);
            if (!digest) findings.push({ kind: 'crash', input, detail: `reported no digest: ${lastLines(outcome.stdout)}` });
            expected.set(launch.names.name, { digest, file: launch.names.file, content: launch.names.content, by: input });
          }
        }
        for (const problem of await storeProblems(lab.root)) findings.push({ kind: 'corrupt', input: `after round ${round}`, detail: problem });
        const { names } = await readIndexNames(lab.root);
        for (const [name, want] of expected) {
          figures['images checked']++;
          const full = [...names.keys()].find((n) => familiar(n) === familiar(name));
          if (!full) {
            findings.push({ kind: 'corrupt', input: want.by, detail: `${name} is gone after round ${round}` });
            expected.delete(name);
          } else if (want.digest && names.get(full) !== want.digest) {
            findings.push({ kind: 'corrupt', input: want.by, detail: `${name} points at ${names.get(full)}, not the ${want.digest} its command reported` });
            expected.delete(name);
          }
        }
        // Run the images this round named: they must unpack and hold their content.
        for (const { launch, outcome } of outcomes) {
          if (outcome.code !== 0 || !launch.names?.file || !expected.has(launch.names.name)) continue;
          figures['images run']++;
          const ran = await runGantry(lab.root, ['run', launch.names.name, 'cat', launch.names.file], { timeoutMs: 60_000 });
          if (ran.code !== 0) findings.push({ kind: 'corrupt', input: `round ${round}: ${launch.kind} ${launch.names.name}`, detail: `does not run: ${lastLines(ran.stderr)}` });
          else if (launch.names.content !== undefined && ran.stdout !== launch.names.content) {
            findings.push({ kind: 'corrupt', input: `round ${round}: ${launch.kind} ${launch.names.name}`, detail: `${launch.names.file} holds ${JSON.stringify(ran.stdout.slice(0, 80))}` });
          }
        }
        options.log(`round ${round}${special ? ` (${special})` : ''}: ${outcomes.map(({ launch, outcome }) => `${launch.kind}→${outcome.code}`).join(', ')}`);
      }
    } finally {
      await stop();
    }
    return { unit: 'concurrent commands', tried, handled, findings, figures };
  },
};

export default suite;
