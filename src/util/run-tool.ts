/** Running system tools (mount, cp, tar, getfattr, ...) to completion, with their failures as GantryErrors. */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { errnoCode, GantryError, machineError } from './errors.js';

export interface ToolOptions {
  /** Bytes written to the tool's standard input. */
  input?: Uint8Array;
  cwd?: string;
  /** The Debian package that provides the tool, for the hint when it is missing. */
  package?: string;
}

export interface ToolResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a tool and returns its exit code and output; only a failure to start it throws. */
export async function tryTool(command: string, args: string[], what: string, options: ToolOptions = {}): Promise<ToolResult> {
  const child = spawn(command, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 8192) stderr += chunk.toString('utf8');
  });
  child.stdin.on('error', () => undefined); // a tool that dies early is reported through its exit status
  const status = new Promise<{ code: number | null; error?: unknown }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  child.stdin.end(options.input);
  const result = await status;
  if (result.error !== undefined) {
    const missing = errnoCode(result.error) === 'ENOENT';
    throw new GantryError(`${what}: \`${command}\` could not be run${missing ? ' (not installed)' : ''}`, {
      hint: options.package ? `install the ${options.package} package (scripts/install-deps.sh does)` : undefined,
      cause: result.error,
    });
  }
  return { code: result.code ?? 1, stdout: Buffer.concat(stdout), stderr: stderr.trim() };
}

/** strerror(3) texts in the C locale (tools run with LC_ALL=C) of the machine failures `machineError` explains. */
const MACHINE_FAILURES: Array<[text: string, code: string]> = [
  ['No space left on device', 'ENOSPC'],
  ['Disk quota exceeded', 'EDQUOT'],
  ['Read-only file system', 'EROFS'],
  ['Too many open files in system', 'ENFILE'],
  ['Too many open files', 'EMFILE'],
];

/**
 * Runs a tool; a non-zero exit is a GantryError naming `what` with the tool's error output, or, when
 * the tool ran into a machine failure (a full disk while cp or tar writes), that failure's message.
 */
export async function runTool(command: string, args: string[], what: string, options: ToolOptions = {}): Promise<ToolResult> {
  const result = await tryTool(command, args, what, options);
  if (result.code === 0) return result;
  const failure = MACHINE_FAILURES.find(([text]) => result.stderr.includes(text));
  const explained = failure && machineError(Object.assign(new Error(`${command}: ${result.stderr}`), { code: failure[1], path: what }));
  throw explained ?? new GantryError(`${what}: ${command} failed: ${result.stderr || `exit status ${result.code}`}`);
}

/** The executable `name` names: a path as it is, else the first match on PATH; undefined when there is none. */
export async function findExecutable(name: string): Promise<string | undefined> {
  const candidates = isAbsolute(name) || name.includes('/') ? [name] : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next directory
    }
  }
  return undefined;
}
