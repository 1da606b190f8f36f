/** Running the tools' commands: checked set-up commands, and timed builds with their memory. */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GantryError } from '../src/util/errors.js';
import { TreeRssSampler } from './memory.js';

export interface CommandLine {
  file: string;
  args: readonly string[];
  /** Added to the harness's environment. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
}

export function describeCommand(command: CommandLine): string {
  const env = Object.entries(command.env ?? {}).map(([k, v]) => `${k}=${v} `).join('');
  return `${env}${[command.file, ...command.args].map(quoteArg).join(' ')}`;
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

const OUTPUT_TAIL_BYTES = 4096;

/** Keeps the last few KiB of a stream, enough to show why a command failed. */
class OutputTail {
  private text = '';
  add(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  }
  toString(): string {
    return this.text;
  }
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The child currently running, so that an interrupted benchmark can stop it. */
let current: ReturnType<typeof spawn> | undefined;

export function stopCurrentCommand(): void {
  current?.kill('SIGTERM');
}

function launch(command: CommandLine, onSpawn?: (pid: number) => void): Promise<Finished & { exitedAt: bigint }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command.file, command.args, {
      cwd: command.cwd,
      env: { ...process.env, ...command.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    current = child;
    const stdout = new OutputTail();
    const stderr = new OutputTail();
    child.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
    let exitedAt = 0n;
    child.once('spawn', () => onSpawn?.(child.pid as number));
    child.once('exit', () => (exitedAt = process.hrtime.bigint()));
    child.once('error', (err) => {
      current = undefined;
      reject(new GantryError(`cannot run ${command.file}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      current = undefined;
      resolve({ code, signal, stdout: stdout.toString(), stderr: stderr.toString(), exitedAt });
    });
  });
}

function failure(command: CommandLine, result: Finished, what: string): GantryError {
  const status = result.signal ? `was killed by ${result.signal}` : `exited ${result.code}`;
  const output = [result.stdout.trim(), result.stderr.trim()].filter(Boolean).join('\n');
  return new GantryError(`${what}: ${describeCommand(command)} ${status}${output ? `\n${output}` : ''}`);
}

/** Runs a set-up command (not timed); fails with its output when it does. */
export async function runChecked(command: CommandLine, what: string): Promise<{ stdout: string; stderr: string }> {
  const result = await launch(command);
  if (result.code !== 0) throw failure(command, result, what);
  return { stdout: result.stdout, stderr: result.stderr };
}

/** Runs a command (not timed) for its exit status alone, e.g. a test of whether something exists. */
export async function exitStatus(command: CommandLine): Promise<number | null> {
  return (await launch(command)).code;
}

export interface TimedRun {
  /** From spawning the command to its exit. */
  seconds: number;
  /** Largest sampled sum of the RSS of the command's process tree. */
  peakTreeRssKiB: number;
  /** Largest RSS of any single process of the tree (exact: the kernel's high-water mark). */
  maxProcessRssKiB: number;
  /** User plus system CPU time of the tree's processes (those the kernel accounts to it). */
  cpuSeconds: number;
  /** Set when the command failed: what it said. */
  error?: string;
}

export const RSS_SAMPLE_INTERVAL_MS = 50;

/**
 * Times `command` from spawn to exit, under `/usr/bin/time` for the exact per-process peak, while
 * sampling the tree's total RSS. A failed command is a result too (with `error`), not an exception:
 * a build a tool cannot do is part of the report.
 */
export async function timeCommand(command: CommandLine, what: string): Promise<TimedRun> {
  const scratch = await mkdtemp(join(tmpdir(), 'gantry-bench-time-'));
  try {
    const rusageFile = join(scratch, 'maxrss');
    const wrapped: CommandLine = { ...command, file: '/usr/bin/time', args: ['-f', '%M %U %S', '-o', rusageFile, command.file, ...command.args] };
    let sampler: TreeRssSampler | undefined;
    const started = process.hrtime.bigint();
    const result = await launch(wrapped, (pid) => {
      sampler = new TreeRssSampler(pid, RSS_SAMPLE_INTERVAL_MS);
      sampler.start();
    });
    const peakTreeRssKiB = (await sampler?.stop()) ?? 0;
    // `time` writes "Command exited with non-zero status N" first when the command fails.
    const usage = (await readFile(rusageFile, 'utf8').catch(() => '0 0 0')).trim().split('\n').pop() as string;
    const [maxProcessRssKiB = 0, user = 0, system = 0] = usage.split(' ').map(Number);
    const run: TimedRun = { seconds: Number(result.exitedAt - started) / 1e9, peakTreeRssKiB, maxProcessRssKiB, cpuSeconds: user + system };
    if (result.code !== 0) run.error = failure(command, result, what).message;
    return run;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
