/** Runs the gantry CLI as a user would, against a store root of the test's own. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContentStore } from '../../src/store/content.js';
import type { Digest } from '../../src/util/digest.js';

export const gantryBin = join(process.cwd(), 'dist', 'bin', 'gantry.js');

export interface GantryResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface GantryRunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

export function gantry(root: string, args: string[], options: GantryRunOptions = {}): Promise<GantryResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [gantryBin, '--root', root, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** Like gantry() but fails the test with the command's output when it exits non-zero. */
export async function gantryOk(root: string, args: string[], options: GantryRunOptions = {}): Promise<GantryResult> {
  const result = await gantry(root, args, options);
  if (result.code !== 0) {
    throw new Error(`gantry ${args.join(' ')} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  }
  return result;
}

export async function tempDir(prefix: string): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `gantry-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export const isRoot = process.getuid?.() === 0;

/** A JSON blob of a store, parsed without the validating readers: tests look at documents as stored. */
export async function readJsonBlob<T>(content: ContentStore, digest: Digest): Promise<T> {
  return JSON.parse((await content.readBytes(digest)).toString('utf8')) as T;
}
