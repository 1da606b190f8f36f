/**
 * RUN: prepares a writable snapshot on the stage's filesystem, runs the command under the OCI
 * runtime with the step's env, user, working dir, network and mounts, removes the mount points the
 * runtime had to create, and turns the changes into a layer.
 */
import { lstat, mkdir, readdir, rm, rmdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { RunStep } from '../../frontend/index.js';
import { resolveUser, RUNTIME_MOUNT_POINTS, withDefaultPath, type NetworkAttachment, type SpecMount } from '../../exec/index.js';
import { GantryError, resolveInRoot } from '../../util/index.js';
import type { StepProgress } from '../../progress/index.js';
import { runNetwork, type ExecContext } from '../exec-context.js';
import type { LayerRecord } from '../../store/index.js';
import type { StageState } from '../state.js';
import { prepareRunMounts, type MountSources } from './run-mounts.js';

/** Files the runtime bind-mounts over; they never belong in a layer. */
const ETC_MOUNT_POINTS = ['/etc/hosts', '/etc/resolv.conf'];

/** BuildKit's hostname for build containers; RUN steps that record it give the same files. */
const BUILD_HOSTNAME = 'buildkitsandbox';

export async function executeRun(step: RunStep, parent: StageState, ctx: ExecContext, sources: MountSources, progress: StepProgress): Promise<LayerRecord> {
  const snapshotter = await ctx.snapshotter();
  const runtime = await ctx.runtime();
  const parentChain = await ctx.materialize(parent);
  const active = await snapshotter.prepare(parentChain);
  const scratch = join(ctx.tmpDir, `run-${progress.id}`);
  await mkdir(scratch, { recursive: true });
  let committed = false;
  try {
    const rootfs = await active.mount();
    const user = await resolveUser(rootfs, step.user);
    const workdir = step.workdir || '/';
    const prepared = await prepareRunMounts(step.mounts, ctx, sources);
    let missing: string[];
    let stubParents: DirTimes[];
    try {
      const mountTargets = [...RUNTIME_MOUNT_POINTS, ...ETC_MOUNT_POINTS, ...prepared.mounts.map((m) => m.destination), ...prepared.secrets.files.map((f) => f.destination)];
      if (step.files.length > 0) mountTargets.push('/dev/pipes');
      missing = await missingPaths(rootfs, mountTargets);
      stubParents = await parentTimes(rootfs, missing);
      // The working directory is created (root-owned, 0755) when missing, as BuildKit does; it stays in the layer.
      await mkdir(await resolveInRoot(rootfs, workdir), { recursive: true, mode: 0o755 });
      const pipeMounts = await writeHeredocFiles(step, scratch);
      const result = await runtime.run({
        spec: {
          rootfs,
          hostname: BUILD_HOSTNAME,
          network: await networkAttachment(step, ctx),
          insecure: step.security === 'insecure',
          process: {
            args: step.args,
            env: withDefaultPath([...step.env, ...prepared.env]),
            cwd: workdir,
            uid: user.uid,
            gid: user.gid,
            additionalGids: user.additionalGids,
          },
          mounts: [...pipeMounts, ...prepared.mounts],
        },
        secrets: prepared.secrets,
        onOutput: (chunk, stream) => progress.log(stream, chunk.toString('utf8')),
        signal: ctx.signal,
      });
      if (result.exitCode !== 0) throw runFailed(step, result.exitCode, result.tail);
    } finally {
      await prepared.release();
    }
    await active.unmount();
    await removeMountStubs(active.unpackDir, missing, stubParents);
    const layer = await ctx.commitLayer(active, parentChain);
    committed = true;
    return layer;
  } finally {
    if (!committed) await active.remove();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function networkAttachment(step: RunStep, ctx: ExecContext): Promise<NetworkAttachment> {
  switch (runNetwork(step, ctx.network)) {
    case 'host':
      return { kind: 'host' };
    case 'none':
      return { kind: 'loopback' };
    case 'default':
      return ctx.sandboxNetwork();
  }
}

function runFailed(step: RunStep, exitCode: number, tail: string[]): GantryError {
  const command = step.args.join(' ');
  const output = tail.length > 0 ? `\n${tail.map((l) => `  > ${l}`).join('\n')}` : '\n  (no output)';
  return new GantryError(`${step.label}: process "${command}" did not complete successfully: exit code: ${exitCode}${output}`, {
    location: { file: step.source.file, line: step.source.startLine, column: 1, lineText: step.source.original.split('\n')[0] },
    hint: 'the command failed inside the build container; the output above is its last lines',
  });
}


/** Heredoc scripts go in a private directory bind-mounted read-only at /dev/pipes. */
async function writeHeredocFiles(step: RunStep, scratch: string): Promise<SpecMount[]> {
  if (step.files.length === 0) return [];
  const dir = join(scratch, 'pipes');
  await mkdir(dir, { recursive: true });
  for (const file of step.files) await writeFile(join(dir, file.name), file.content, { mode: file.mode });
  return [{ destination: '/dev/pipes', type: 'bind', source: dir, options: ['rbind', 'ro'] }];
}

/** Of each target and its ancestors, those absent from the root filesystem before the run, deepest first. */
async function missingPaths(rootfs: string, targets: string[]): Promise<string[]> {
  const missing = new Set<string>();
  for (const target of targets) {
    let path = posix.normalize(target);
    while (path !== '/' && path !== '.') {
      try {
        await lstat(join(rootfs, path));
        break;
      } catch {
        missing.add(path);
      }
      path = dirname(path);
    }
  }
  return [...missing].sort((a, b) => b.length - a.length);
}

interface DirTimes {
  path: string;
  atime: Date;
  mtime: Date;
}

/** Times of the existing directories that mount points will be created in. */
async function parentTimes(rootfs: string, missing: string[]): Promise<DirTimes[]> {
  const missingSet = new Set(missing);
  const parents = new Set(missing.map((path) => posix.dirname(path)).filter((dir) => !missingSet.has(dir)));
  const times: DirTimes[] = [];
  for (const dir of parents) {
    const st = await lstat(join(rootfs, dir)).catch(() => undefined);
    if (st?.isDirectory()) times.push({ path: dir, atime: st.atime, mtime: st.mtime });
  }
  return times;
}

/**
 * Removes mount points the runtime created, unless the command put something in them, and gives
 * their directories back their times (BuildKit's MountStubsCleaner does the same), so that a RUN
 * leaves no trace of the runtime's mounts.
 */
async function removeMountStubs(fsDir: string, missing: string[], parents: DirTimes[]): Promise<void> {
  for (const path of missing) {
    const host = join(fsDir, path);
    let st;
    try {
      st = await lstat(host);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if ((await readdir(host)).length === 0) await rmdir(host);
    } else if (st.isFile() && st.size === 0) {
      await rm(host);
    }
  }
  for (const parent of parents) {
    const host = join(fsDir, parent.path);
    if ((await lstat(host).catch(() => undefined))?.isDirectory()) await utimes(host, parent.atime, parent.mtime);
  }
}
