/**
 * The worker thread of the dockerfile-mutants suite: runs one mutated input through the frontend (or
 * the .dockerignore reader and matcher) and says how it ended. The suite terminates a worker that
 * takes too long and sees one that runs out of its memory limit die, so a hang or runaway memory
 * becomes a finding instead of stalling the run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { isMainThread, parentPort, threadId } from 'node:worker_threads';
import { copyIgnoredCheck, IgnoreMatcher, loadDockerignore, parseIgnoreFile } from '../../src/context/index.js';
import { checkDockerfile, DockerfileError, dumpDockerfileAst, planBuild, type PlanOptions, type ResolvedImage } from '../../src/frontend/index.js';
import { formatGantryError, GantryError } from '../../src/util/errors.js';

/** A Dockerfile (with the .dockerignore that goes with it, if any), or a .dockerignore matched against `paths` after being read from under `dir`. */
export type JobInput =
  | { kind: 'dockerfile'; bytes: Uint8Array; ignore?: Uint8Array }
  | { kind: 'ignore'; bytes: Uint8Array; paths: string[]; dir: string };

export type Job = JobInput & { id: number };

export interface Reply {
  id: number;
  /** Every step ended in a success or a clear, located error. */
  handled: boolean;
  /** What was wrong, when not handled. */
  problem?: string;
  /** How the steps ended, e.g. "ast ok, plan error, check error". */
  summary: string;
  /** The isolate's heap size after the job, in bytes (it only grows, so it tracks the peak). */
  heapBytes: number;
}

/** A formatted error longer than this is not a clear message. */
const MAX_FORMATTED = 10_000;

const platform = { os: 'linux', architecture: 'amd64' };

/** Stands in for the image store: every image exists, with a small config. */
async function resolveImage(ref: string, wanted: PlanOptions['targetPlatform']): Promise<ResolvedImage> {
  return { ref, digest: `sha256:${'0'.repeat(64)}`, platform: wanted, config: { Env: ['PATH=/usr/bin:/bin'], WorkingDir: '/', Cmd: ['/bin/sh'] } };
}

/**
 * undefined when `err` is a clear user error: a GantryError located in the file (with the line quoted)
 * or carrying a hint, whose printed form is bounded and printable.
 */
function judgeError(err: unknown): string | undefined {
  if (!(err instanceof GantryError)) {
    const stack = err instanceof Error ? (err.stack ?? '').split('\n').slice(0, 4).join(' | ') : String(err);
    return `internal error: ${stack}`;
  }
  const formatted = formatGantryError(err);
  // "lint violation found for rules: ..." (check=error=true) sums up findings that carry their own lines.
  const locatedFindings = err instanceof DockerfileError && err.warnings.length > 0 && err.warnings.every((w) => w.location);
  if (!locatedFindings && (!err.location || err.location.line < 1 || err.location.column < 1)) {
    return `an error without a location: ${err.message.slice(0, 200)}`;
  }
  if (formatted.length > MAX_FORMATTED) return `an error of ${formatted.length} characters`;
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(formatted)) return `an error with raw control characters: ${JSON.stringify(formatted.slice(0, 200))}`;
  if (!err.hint && !err.location?.lineText) return `an error with neither the line nor a hint: ${err.message.slice(0, 200)}`;
  return undefined;
}

interface StepResult<T> {
  outcome: string;
  problem?: string;
  value?: T;
}

async function step<T>(name: string, run: () => T | Promise<T>): Promise<StepResult<T>> {
  try {
    return { outcome: `${name} ok`, value: await run() };
  } catch (err) {
    const problem = judgeError(err);
    return { outcome: `${name} error`, problem: problem && `${name}: ${problem}` };
  }
}

async function runDockerfile(job: Extract<Job, { kind: 'dockerfile' }>): Promise<Array<StepResult<unknown>>> {
  // Decoded as the command line decodes a file: invalid UTF-8 becomes U+FFFD.
  const text = Buffer.from(job.bytes).toString('utf8');
  const steps: Array<StepResult<unknown>> = [];
  let isIgnored: ((path: string) => boolean) | undefined;
  if (job.ignore) {
    const ignoreText = Buffer.from(job.ignore).toString('utf8');
    const built = await step('ignore', () => new IgnoreMatcher('/context/.dockerignore', parseIgnoreFile(ignoreText), '.dockerignore'));
    steps.push(built);
    if (built.value) isIgnored = copyIgnoredCheck(built.value);
  }
  const options: PlanOptions = { file: 'Dockerfile', buildArgs: {}, targetPlatform: platform, buildPlatform: platform, resolveImage, isIgnored };
  steps.push(await step('ast', () => dumpDockerfileAst(text, 'Dockerfile')));
  steps.push(await step('plan', () => planBuild(text, options)));
  steps.push(
    await step('check', async () => {
      const result = await checkDockerfile(text, options);
      if (result.error) throw result.error;
    }),
  );
  return steps;
}

async function runIgnore(job: Extract<Job, { kind: 'ignore' }>): Promise<Array<StepResult<unknown>>> {
  // Through the real reader (size limit, byte order mark, decoding), from a private directory.
  const dir = join(job.dir, `worker-${threadId}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.dockerignore'), job.bytes);
  const loaded = await step('load', () => loadDockerignore(dir));
  const steps: Array<StepResult<unknown>> = [loaded];
  const matcher = loaded.value;
  if (matcher) {
    const check = copyIgnoredCheck(matcher);
    steps.push(
      await step('match', () => {
        for (const path of job.paths) {
          matcher.isIgnored(path);
          matcher.describeExclusion(path);
          check(path);
        }
      }),
    );
  }
  return steps;
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (job: Job) => {
    const started = job.kind === 'dockerfile' ? runDockerfile(job) : runIgnore(job);
    // An error outside the steps (decoding the input, writing the ignore file) is reported as a step's would be.
    const settled = started.catch((err: unknown) => [{ outcome: 'input error', problem: `input: ${judgeError(err) ?? String(err)}` }]);
    void settled.then((steps: Array<StepResult<unknown>>) => {
      const problems = steps.flatMap((s) => (s.problem ? [s.problem] : []));
      const reply: Reply = {
        id: job.id,
        handled: problems.length === 0,
        problem: problems.join('; ') || undefined,
        summary: steps.map((s) => s.outcome).join(', '),
        heapBytes: getHeapStatistics().total_heap_size,
      };
      port.postMessage(reply);
    });
  });
}
