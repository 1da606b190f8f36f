/**
 * Mutated Dockerfiles and .dockerignore files against the frontend and the ignore-file matcher:
 * truncations, byte flips, NULs, invalid UTF-8, CRLF and byte order marks, megabyte lines, deep
 * nesting of `${`, quotes, brackets, heredocs and continuations, splices of two files, repeated lines
 * and runaway ARG chains, seeded from BuildKit's parser fixtures, the build-check and .dockerignore
 * tables, and the project's own tests and examples.
 *
 * Each input runs in-process (in a worker thread) through the parser, planBuild and checkDockerfile, or
 * through the ignore-file reader and matcher. Handled: a success, or a GantryError located in the file
 * with a bounded, printable message. A finding: any other exception, a worker that passes the time
 * limit (terminated: a hang) or its memory limit (runaway memory). A sample also goes through the real
 * command line (`gantry build --check`) to show the errors users see are clear.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { judgeOutcome, Random, runGantry } from '../lib.js';
import type { AttackSuite, Finding, SuiteOptions, SuiteResult } from '../suite.js';
import { dockerfileSeeds, ignoreSeeds, mutate, samplePaths, type MutationScale, type Seed } from './dockerfile-mutants-inputs.js';
import type { Job, JobInput, Reply } from './dockerfile-mutants-worker.js';

interface Plan {
  dockerfiles: number;
  ignoreFiles: number;
  /** Mutants also run through the command line. */
  cli: number;
  mutation: MutationScale;
}

const PLANS: Record<SuiteOptions['scale'], Plan> = {
  // Bounded: a couple of thousand inputs in well under a minute on two cores.
  bounded: { dockerfiles: 1000, ignoreFiles: 300, cli: 8, mutation: { depth: 3_000, longLine: 100_000, repeats: 200 } },
  full: { dockerfiles: 10_000, ignoreFiles: 3_000, cli: 48, mutation: { depth: 100_000, longLine: 1_100_000, repeats: 2_000 } },
};

/** A trial still running after this is a hang. Inputs near the size limits plan in a few seconds. */
const TIME_LIMIT_MS = 20_000;

/** A worker's heap limit: a Dockerfile of the allowed size plans in a fraction of it; passing it is runaway memory. */
const HEAP_LIMIT_MB = 768;

const suite: AttackSuite = {
  name: 'dockerfile-mutants',
  title: 'mutated Dockerfiles and .dockerignore files through the parser, planner and matcher',
  needsRoot: false,
  async run(options: SuiteOptions): Promise<SuiteResult> {
    const plan = PLANS[options.scale];
    const random = new Random(options.seed);
    const root = process.cwd();
    const dockerfiles = dockerfileSeeds(root);
    const ignores = ignoreSeeds(root);
    const paths = samplePaths(root);
    options.log(`${dockerfiles.length} Dockerfile seeds, ${ignores.length} .dockerignore seeds, ${paths.length} sample paths`);

    const findings: Finding[] = [];
    let tried = 0;
    let handled = 0;
    const counts = { errors: 0, successes: 0 };
    const cliSamples: Array<{ description: string; bytes: Buffer }> = [];
    const total = plan.dockerfiles + plan.ignoreFiles;
    let generated = 0;
    // Inputs are made one at a time as workers free up (the full scale's would not fit in memory at once),
    // in one sequence from the seed, so input i is the same whichever worker runs it.
    const nextInput = (): { description: string; job: JobInput } | undefined => {
      const i = generated++;
      if (i >= total) return undefined;
      if (i < plan.dockerfiles) {
        const seed = random.pick(dockerfiles);
        const mutant = mutate(seed, random.pick(dockerfiles), random, plan.mutation, false);
        const ignore = seed.ignore && random.int(2) === 0 ? mutate(ignoreSeed(seed), random.pick(ignores), random, plan.mutation, true).bytes : undefined;
        if (cliSamples.length < plan.cli && i % Math.floor(plan.dockerfiles / plan.cli) === 0) cliSamples.push(mutant);
        return { description: `mutant ${i}: ${mutant.description}`, job: { kind: 'dockerfile', bytes: mutant.bytes, ignore } };
      }
      const mutant = mutate(random.pick(ignores), random.pick(ignores), random, plan.mutation, true);
      return { description: `ignore mutant ${i - plan.dockerfiles}: ${mutant.description}`, job: { kind: 'ignore', bytes: mutant.bytes, paths, dir: options.workDir } };
    };
    const slots = Array.from({ length: Math.max(1, Math.min(4, availableParallelism())) }, () => new Slot());
    const started = Date.now();
    let peakHeapBytes = 0;
    let slowestMs = 0;
    try {
      await Promise.all(
        slots.map(async (slot) => {
          for (let input = nextInput(); input; input = nextInput()) {
            const begun = Date.now();
            const outcome = await slot.run(input.job);
            slowestMs = Math.max(slowestMs, Date.now() - begun);
            tried++;
            if (outcome.kind === 'reply' && outcome.reply.handled) {
              handled++;
              peakHeapBytes = Math.max(peakHeapBytes, outcome.reply.heapBytes);
              if (outcome.reply.summary.includes('error')) counts.errors++;
              else counts.successes++;
            } else {
              const finding = toFinding(input.description, outcome);
              findings.push(finding);
              options.log(`finding: ${finding.kind}: ${finding.input}: ${finding.detail}`);
            }
            if (tried % 1000 === 0) options.log(`${tried}/${total} inputs, ${findings.length} findings, ${((Date.now() - started) / 1000).toFixed(0)} s`);
          }
        }),
      );
    } finally {
      await Promise.all(slots.map((slot) => slot.close()));
    }

    // The command line: the same kind of mutants, as a user would hit them.
    const cliDir = join(options.workDir, 'cli');
    const storeRoot = join(options.workDir, 'store');
    await mkdir(join(cliDir, 'context'), { recursive: true });
    // Two at a time: each is a whole process, and most of its time is start-up.
    let nextSample = 0;
    const runSamples = async () => {
      for (let i = nextSample++; i < cliSamples.length; i = nextSample++) {
        const sample = cliSamples[i]!;
        const file = join(cliDir, `Dockerfile.${i}`);
        await writeFile(file, sample.bytes);
        const outcome = await runGantry(storeRoot, ['build', '--check', '-f', file, join(cliDir, 'context')], { timeoutMs: 60_000 });
        tried++;
        const finding = judgeOutcome(outcome, `CLI sample ${i}: ${sample.description}`);
        if (finding) findings.push(finding);
        else handled++;
      }
    };
    await Promise.all([runSamples(), runSamples()]);

    return {
      unit: 'mutated inputs',
      tried,
      handled,
      findings,
      figures: {
        'Dockerfile mutants': plan.dockerfiles,
        '.dockerignore mutants': plan.ignoreFiles,
        'CLI samples': cliSamples.length,
        'clear errors': counts.errors,
        successes: counts.successes,
        'worker heap peak MB': Math.round(peakHeapBytes / 1024 / 1024),
        'slowest input ms': slowestMs,
      },
    };
  },
};

export default suite;

/** A seed's own .dockerignore as a seed. */
function ignoreSeed(seed: Seed): Seed {
  return { name: `${seed.name} .dockerignore`, text: seed.ignore ?? '' };
}

type Outcome = { kind: 'reply'; reply: Reply } | { kind: 'hang'; ms: number } | { kind: 'died'; reason: string };

function toFinding(input: string, outcome: Outcome): Finding {
  const short = input.length > 300 ? `${input.slice(0, 300)}…` : input;
  switch (outcome.kind) {
    case 'hang':
      return { kind: 'hang', input: short, detail: `no result after ${outcome.ms} ms (worker terminated)` };
    case 'died':
      return { kind: 'crash', input: short, detail: outcome.reason };
    case 'reply':
      return { kind: 'crash', input: short, detail: `${outcome.reply.summary}: ${outcome.reply.problem ?? ''}`.slice(0, 600) };
  }
}

/**
 * One worker thread running one job at a time, started on first use and again after it is terminated
 * (a job past TIME_LIMIT_MS) or dies (its heap limit reached).
 */
class Slot {
  private worker?: Worker;
  private nextId = 0;
  /** Workers being terminated: waited for before the work directory is removed (one may still be writing to it). */
  private readonly ending: Array<Promise<number>> = [];

  private start(): Worker {
    const worker = new Worker(new URL('./dockerfile-mutants-worker.js', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: HEAP_LIMIT_MB },
    });
    // An exit nobody waits for (after a job settled) must not crash the run.
    worker.on('error', () => undefined);
    this.worker = worker;
    return worker;
  }

  run(input: JobInput): Promise<Outcome> {
    const job: Job = { ...input, id: this.nextId++ };
    const worker = this.worker ?? this.start();
    const started = Date.now();
    return new Promise<Outcome>((resolve) => {
      const finish = (outcome: Outcome, replace: boolean) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        if (replace) {
          this.worker = undefined;
          this.ending.push(worker.terminate());
        }
        resolve(outcome);
      };
      const onMessage = (reply: Reply) => {
        if (reply.id === job.id) finish({ kind: 'reply', reply }, false);
      };
      const onError = (err: Error & { code?: string }) =>
        finish({ kind: 'died', reason: err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `runaway memory: over the ${HEAP_LIMIT_MB} MB heap limit` : `worker died: ${err.message}` }, true);
      const onExit = (code: number) => finish({ kind: 'died', reason: `worker exited with code ${code}` }, true);
      const timer = setTimeout(() => finish({ kind: 'hang', ms: Date.now() - started }, true), TIME_LIMIT_MS);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    if (this.worker) this.ending.push(this.worker.terminate());
    this.worker = undefined;
    await Promise.all(this.ending);
  }
}
