/**
 * What the fault suites (kill, disk-full, concurrency, secrets) share; not a suite itself (no default
 * export). A lab is a store holding the busybox base image plus a scratch directory; the checks here
 * are the ones every fault trial ends with: the store verifies and names only whole images, nothing a
 * dead gantry process left behind survives the command whose job it is to remove it (prune removes
 * everything), and an output path is either absent or whole.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileAsync, mountsUnder, runcContainers } from '../../test/e2e/support.js';
import { importBusybox } from '../../test/helpers/base-image.js';
import { judgeOutcome, lastLines, runGantry, verifyStore, type CommandOutcome, type RunOptions } from '../lib.js';
import type { Finding, FindingKind } from '../suite.js';

export { busyboxRootfsTar } from '../../test/helpers/base-image.js';
export { startRegistry, type RegistryServer } from '../../test/registry/helpers/registry-server.js';
export { execFileAsync, mountsUnder, writeTree } from '../../test/e2e/support.js';

/** A store with busybox:latest and a work directory for contexts and outputs. */
export interface Lab {
  root: string;
  work: string;
}

export async function createLab(dir: string, root = join(dir, 'store')): Promise<Lab> {
  const work = join(dir, 'work');
  await mkdir(work, { recursive: true });
  await importBusybox(root);
  return { root, work };
}

/** Random bytes as hex, for file contents that no two trials share. */
export function uniqueText(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

/** Runs gantry and fails the trial (throws) unless it succeeds; for set-up steps. */
export async function gantryOk(root: string, args: string[], options: RunOptions = {}): Promise<CommandOutcome> {
  const outcome = await runGantry(root, args, { timeoutMs: 180_000, ...options });
  if (outcome.code !== 0) throw new Error(`gantry ${args.join(' ')} failed (exit ${outcome.code ?? outcome.signal}): ${lastLines(outcome.stderr, 8)}`);
  return outcome;
}

export interface KilledRun {
  outcome: CommandOutcome;
  /** Whether the kill landed (false: the command finished first). */
  killed: boolean;
}

/**
 * Runs gantry and SIGKILLs it (the gantry process alone, as the OOM killer or `kill -9` would): `at`
 * milliseconds after it starts, or once `at()` (polled) holds and `graceMs` more have passed.
 */
export async function runKilled(root: string, args: string[], at: number | (() => Promise<boolean>), options: RunOptions & { graceMs?: number } = {}): Promise<KilledRun> {
  let timer: NodeJS.Timeout | undefined;
  let exited = false;
  const kill = (pid: number) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // it had already exited
    }
  };
  const outcome = await runGantry(root, args, {
    timeoutMs: 180_000,
    ...options,
    onSpawn: (pid) => {
      if (typeof at === 'number') {
        timer = setTimeout(() => kill(pid), at);
        return;
      }
      const poll = async (): Promise<void> => {
        if (exited) return;
        if (await at()) timer = setTimeout(() => kill(pid), options.graceMs ?? 0);
        else timer = setTimeout(() => void poll(), 25);
      };
      void poll();
    },
  });
  exited = true;
  clearTimeout(timer);
  return { outcome, killed: outcome.signal === 'SIGKILL' };
}

/** A finding for a command that had to succeed, or undefined when it did. */
export function mustSucceed(outcome: CommandOutcome, input: string, kind: FindingKind = 'corrupt'): Finding | undefined {
  if (outcome.code === 0) return undefined;
  return judgeOutcome(outcome, input) ?? { kind, input, detail: `failed: ${lastLines(outcome.stderr)}` };
}

/**
 * Leftovers of dead gantry processes that the next build, `run` or prune removes: mounts under the
 * store, runc containers, writable snapshots and their mount points.
 */
export async function snapshotLeftovers(root: string): Promise<string[]> {
  const found = (await mountsUnder(root)).map((point) => `mount ${point}`);
  for (const driver of await readdir(join(root, 'snapshots')).catch(() => [] as string[])) {
    for (const sub of ['active', 'mnt']) {
      for (const name of await readdir(join(root, 'snapshots', driver, sub)).catch(() => [] as string[])) found.push(`snapshots/${driver}/${sub}/${name}`);
    }
  }
  return found;
}

/** Containers and their bundles left by dead processes: a build that runs a container, or prune, removes them. */
export async function containerLeftovers(root: string): Promise<string[]> {
  const found = (await runcContainers(root)).map((id) => `runc container ${id}`);
  for (const name of await readdir(join(root, 'runtime-bundles')).catch(() => [] as string[])) found.push(`runtime-bundles/${name}`);
  return found;
}

/** Temporary names anywhere in the store's own directories: what an interrupted write leaves. */
const TEMP_NAME = /^\.tmp-|\.tmp-\d+-|\.old$|^[a-f0-9]{64}\.\d+-/;

/**
 * Everything a dead process can leave, which prune must remove: the above, plus temp files under
 * tmp/ and ingest/, and temp names anywhere in the store outside image content.
 */
export async function allLeftovers(root: string): Promise<string[]> {
  const found = [...(await snapshotLeftovers(root)), ...(await containerLeftovers(root))];
  for (const name of await readdir(join(root, 'tmp')).catch(() => [] as string[])) if (name !== 'empty') found.push(`tmp/${name}`);
  for (const name of await readdir(join(root, 'ingest')).catch(() => [] as string[])) found.push(`ingest/${name}`);
  const walk = async (rel: string, depth: number): Promise<void> => {
    for (const name of await readdir(join(root, rel)).catch(() => [] as string[])) {
      const path = rel ? `${rel}/${name}` : name;
      if (TEMP_NAME.test(name)) found.push(path);
      // Image content (committed snapshot trees) may hold any names; tmp/ and ingest/ are listed above.
      if (/^snapshots\/[^/]+\/committed\/[^/]+$/.test(path) || path === 'tmp' || path === 'ingest' || depth > 4) continue;
      if ((await lstat(join(root, path)).catch(() => undefined))?.isDirectory()) await walk(path, depth + 1);
    }
  };
  await walk('', 0);
  return found;
}

/** index.json as written (parsed), or why not. */
export async function readIndexNames(root: string): Promise<{ names: Map<string, string>; problem?: string }> {
  const names = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(join(root, 'index.json'), 'utf8');
  } catch (err) {
    return { names, problem: `index.json unreadable: ${(err as Error).message}` };
  }
  try {
    const index = JSON.parse(text) as { manifests?: Array<{ digest: string; annotations?: Record<string, string> }> };
    for (const entry of index.manifests ?? []) {
      const name = entry.annotations?.['io.containerd.image.name'];
      if (name) names.set(name, entry.digest);
    }
    return { names };
  } catch (err) {
    return { names, problem: `index.json does not parse: ${(err as Error).message}` };
  }
}

/** verifyStore, plus index.json parses. */
export async function storeProblems(root: string): Promise<string[]> {
  const problems = await verifyStore(root);
  const { problem } = await readIndexNames(root);
  return problem ? [...problems, problem] : problems;
}

/** The familiar form of a full name ("docker.io/library/x:1" → "x:1") for commands. */
export function familiar(name: string): string {
  return name.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
}

export type OutputKind = 'oci-tar' | 'docker-tar' | 'oci-dir' | 'cache-dir' | 'rootfs-dir' | 'rootfs-tar';

/**
 * Whether an output is absent or whole. Image archives and layouts must load into a scratch store
 * (and a layout must verify as one); a cache directory must verify; a root filesystem directory or
 * tar must list exactly what the uninterrupted command wrote (`reference`).
 */
export async function outputProblem(path: string, kind: OutputKind, scratchRoot: string, reference?: string[]): Promise<string | undefined> {
  if (!(await lstat(path).catch(() => undefined))) return undefined;
  if (kind === 'oci-dir' || kind === 'cache-dir') {
    const problems = await verifyStore(path);
    if (!(await lstat(join(path, 'index.json')).catch(() => undefined))) problems.push('it has no index.json');
    if (problems.length > 0) return `${path} is there but not whole: ${problems.slice(0, 3).join('; ')}`;
  }
  if (kind === 'oci-tar' || kind === 'docker-tar' || kind === 'oci-dir') {
    const loaded = await runGantry(scratchRoot, ['load', '-q', path], { timeoutMs: 120_000 });
    if (loaded.code !== 0) return `${path} is there but does not load: ${lastLines(loaded.stderr)}`;
  }
  if ((kind === 'rootfs-dir' || kind === 'rootfs-tar') && reference) {
    const listing = await rootfsListing(path, kind);
    const missing = reference.filter((entry) => !listing.includes(entry));
    if (missing.length > 0) return `${path} is there but lacks ${missing.length} of its ${reference.length} entries (e.g. ${missing.slice(0, 3).join(', ')})`;
  }
  return undefined;
}

/** Paths (with sizes of regular files) of a root filesystem output, sorted; both kinds are listed by tar's verbose listing so they compare alike. */
export async function rootfsListing(path: string, kind: 'rootfs-dir' | 'rootfs-tar'): Promise<string[]> {
  const script = kind === 'rootfs-dir' ? 'tar -C "$1" -cf - . | tar -tvf -' : 'tar -tvf "$1"';
  const { stdout } = await execFileAsync('sh', ['-c', script, 'sh', path], { maxBuffer: 64 << 20 });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      return `${fields.slice(5).join(' ').replace(/^\.\//, '').replace(/\/$/, '')} ${line.startsWith('-') ? fields[2] : ''}`.trim();
    })
    .filter((entry) => entry !== '.' && entry !== '')
    .sort();
}
