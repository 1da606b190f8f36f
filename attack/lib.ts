/** Tools the attack suites share: a seeded random source, running gantry with a time limit, judging its outcome, checking a store. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Finding } from './suite.js';

/** A small deterministic generator (mulberry32): the same seed gives the same trials. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

export const gantryBin = join(process.cwd(), 'dist', 'bin', 'gantry.js');

export interface CommandOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Wall time in milliseconds. */
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Called with the child's pid once it runs (to kill it at a chosen moment). */
  onSpawn?: (pid: number) => void;
}

/** Output kept per stream: enough to judge an error message, bounded against runaway output. */
const KEEP_BYTES = 64 * 1024;

/** Runs a command; kills it (and reports timedOut) past the time limit. */
export function runCommand(file: string, args: string[], options: RunOptions = {}): Promise<CommandOutcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.stdout.on('data', (c: Buffer) => (stdout = (stdout + c.toString('utf8')).slice(-KEEP_BYTES)));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-KEEP_BYTES)));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('spawn', () => child.pid !== undefined && options.onSpawn?.(child.pid));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** Runs the gantry CLI (the bundle, as users run it) against the store at `root`. */
export function runGantry(root: string, args: string[], options: RunOptions = {}): Promise<CommandOutcome> {
  return runCommand(process.execPath, [gantryBin, '--root', root, ...args], options);
}

/**
 * Judges a CLI run that was given hostile input: success, or a user error (`error: ...`, exit 1) are
 * handled; an internal error, a stack trace, a crash signal or a time-out is a finding.
 */
export function judgeOutcome(outcome: CommandOutcome, input: string): Finding | undefined {
  if (outcome.timedOut) return { kind: 'hang', input, detail: `no result after ${outcome.ms} ms` };
  if (outcome.signal) return { kind: 'crash', input, detail: `killed by ${outcome.signal}: ${lastLines(outcome.stderr)}` };
  if (outcome.code === 0) return undefined;
  if (/internal error|\n\s+at .+:\d+:\d+\)?\n|FATAL ERROR|RangeError|TypeError/.test(outcome.stderr) || outcome.code !== 1) {
    return { kind: 'crash', input, detail: `exit ${outcome.code}: ${lastLines(outcome.stderr)}` };
  }
  if (!/^error: /m.test(outcome.stderr)) return { kind: 'crash', input, detail: `exit 1 without an error message: ${lastLines(outcome.stderr)}` };
  return undefined;
}

export function lastLines(text: string, count = 4): string {
  return text.trim().split('\n').slice(-count).join(' | ').slice(0, 400);
}

/**
 * Checks a store after an attack: every blob hashes to its name and every document the index names
 * (and everything it reaches) is present. Returns what is wrong, empty when the store is intact.
 */
export async function verifyStore(root: string): Promise<string[]> {
  const problems: string[] = [];
  const blobsDir = join(root, 'blobs', 'sha256');
  const names = await readdir(blobsDir).catch(() => [] as string[]);
  for (const name of names) {
    const actual = await sha256OfFile(join(blobsDir, name));
    if (actual !== name) problems.push(`blob ${name} holds content with digest ${actual}`);
  }
  const present = new Set(names);
  let index: { manifests?: Array<{ digest?: string; mediaType?: string }> };
  try {
    index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as typeof index;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return problems;
    return [...problems, `index.json unreadable: ${(err as Error).message}`];
  }
  const seen = new Set<string>();
  /** `document`: a manifest or index, whose children are visited; `blob`: a config or layer, only checked present. */
  const visit = async (digest: string | undefined, what: string, kind: 'document' | 'blob'): Promise<void> => {
    const hex = typeof digest === 'string' ? /^sha256:([a-f0-9]{64})$/.exec(digest)?.[1] : undefined;
    if (!hex) {
      problems.push(`${what}: invalid digest ${String(digest)}`);
      return;
    }
    if (seen.has(hex)) return;
    seen.add(hex);
    if (!present.has(hex)) {
      problems.push(`${what}: blob ${hex} is missing`);
      return;
    }
    if (kind === 'blob') return;
    let doc: { manifests?: Array<{ digest?: string }>; config?: { digest?: string }; layers?: Array<{ digest?: string }> };
    try {
      doc = JSON.parse((await readFile(join(blobsDir, hex))).toString('utf8')) as typeof doc;
    } catch {
      problems.push(`${what}: ${hex} is not a JSON document`);
      return;
    }
    if (typeof doc !== 'object' || doc === null) return;
    for (const child of doc.manifests ?? []) await visit(child.digest, `${what} → manifest`, 'document');
    if (doc.config) await visit(doc.config.digest, `${what} → config`, 'blob');
    for (const layer of doc.layers ?? []) await visit(layer.digest, `${what} → layer`, 'blob');
  };
  for (const [i, entry] of (index.manifests ?? []).entries()) await visit(entry.digest, `index.json entry ${i}`, 'document');
  return problems;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
