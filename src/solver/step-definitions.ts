/**
 * Cache keys and executions for RUN, COPY/ADD and WORKDIR. A key covers the parent's key and the
 * whole expanded step; for steps that read files it covers the digest of exactly what they read: the
 * selected context files, the source stage's layers, a bind mount's content. Secrets never enter a key.
 */
import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CopyStep, PlannedStage, RunMount, RunStep, StepInput, WorkdirStep } from '../frontend/index.js';
import { formatPlatform } from '../image/index.js';
import { resolveOwner } from '../exec/index.js';
import type { StepProgress } from '../progress/index.js';
import { sha256, type Digest, canonicalJson, resolveInRoot } from '../util/index.js';
import type { SnapshotView } from '../snapshot/index.js';
import { stepKey } from './cache-key.js';
import type { LayerRecord, StepInputs } from '../store/index.js';
import { runNetwork, type ExecContext } from './exec-context.js';
import { applyCopy, mkdirAllInRoot, type Ownership } from './ops/copy-apply.js';
import { parseChmod, planCopy, type SelectedSource } from './ops/copy-plan.js';
import { executeRun } from './ops/run.js';
import type { MountSources } from './ops/run-mounts.js';
import type { SourceSelection, SourceSelector } from './sources.js';
import type { StepDefiner, StepDefinition } from './stage-runner.js';
import { chainIdOfState, type StageState } from './state.js';
import { isRemoteSource, planRemoteSources } from './ops/remote-sources.js';
import { extractArchiveSources } from './ops/archives.js';

export interface DefinerDeps {
  ctx: ExecContext;
  /** Selects from the build context (with .dockerignore and the stat cache). */
  context: SourceSelector;
  /** Selects from a mounted filesystem (a stage or image). */
  treeSelector(root: string): SourceSelector;
  sourceDateEpoch?: number;
  /** A stage's name for messages (its index when unnamed). */
  stageName(index: number): string;
}

export class StepDefinitions implements StepDefiner {
  private mountCounter = 0;

  constructor(private readonly deps: DefinerDeps) {}

  async define(step: RunStep | CopyStep | WorkdirStep, state: StageState, stage: PlannedStage): Promise<StepDefinition> {
    switch (step.kind) {
      case 'run':
        return this.defineRun(step, state, stage);
      case 'copy':
        return this.defineCopy(step, state, stage);
      case 'workdir':
        return this.defineWorkdir(step, state, stage);
    }
  }

  private inputs(step: RunStep | CopyStep | WorkdirStep, state: StageState, stage: PlannedStage, key: Digest, fields: Record<string, string>, extra: Partial<StepInputs> = {}): StepInputs {
    return {
      key,
      parentKey: state.key,
      instruction: step.history?.createdBy ?? step.label,
      platform: formatPlatform(stage.platform),
      buildArgs: step.kind === 'run' ? step.buildArgs : [],
      env: step.kind === 'run' ? step.env : [],
      fields,
      ...extra,
    };
  }

  private async defineRun(step: RunStep, state: StageState, stage: PlannedStage): Promise<StepDefinition> {
    const { ctx } = this.deps;
    const mountKeys = await Promise.all(step.mounts.map((m) => this.mountKey(m)));
    const network = runNetwork(step, ctx.network);
    const fields = {
      user: step.user,
      workdir: step.workdir,
      network,
      security: step.security,
      mounts: canonicalJson(mountKeys),
      files: canonicalJson(step.files),
    };
    const key = stepKey(state.key, { kind: 'run', args: step.args, env: step.env, ...fields, epoch: this.deps.sourceDateEpoch ?? null });
    const sources: MountSources = { sourcePath: (mount) => this.mountSourcePath(mount) };
    return {
      key,
      recordKey: key,
      inputs: { ...this.inputs(step, state, stage, key, fields), instruction: `RUN ${step.args.join(' ')}` },
      execute: (progress) => executeRun(step, state, ctx, sources, progress),
    };
  }

  /** What of a mount enters the key: its definition and, for bind/cache sources, the content digest. Secrets: only the id. */
  private async mountKey(mount: RunMount): Promise<unknown> {
    if ((mount.type === 'bind' || mount.type === 'cache') && (mount.type === 'bind' || mount.from)) {
      const from = mount.type === 'bind' ? mount.from : (mount.from as StepInput);
      return { ...mount, from: await this.inputContentKey(from, [mount.source]) };
    }
    return mount;
  }

  /** Content digest of an input: a context selection, or the layers of a stage or image. */
  private async inputContentKey(input: StepInput, patterns: string[]): Promise<string> {
    if (input.kind === 'context') return (await this.deps.context.select(patterns, { exclude: [], parents: false })).digest;
    const state = input.kind === 'stage' ? await this.deps.ctx.stageState(input.stage) : await this.deps.ctx.imageState(input.ref);
    return chainIdOfState(state) ?? 'empty';
  }

  private async mountSourcePath(mount: Extract<RunMount, { type: 'bind' | 'cache' }>): Promise<{ path: string; release(): Promise<void> }> {
    const { ctx } = this.deps;
    const input: StepInput = mount.type === 'bind' ? mount.from : (mount.from ?? { kind: 'context' });
    if (input.kind === 'context') {
      // A private copy of the selected context files: a bind mount never exposes ignored files or lets a RUN write into the context.
      const selection = await this.deps.context.select([mount.source], { exclude: [], parents: false });
      const dir = join(ctx.tmpDir, `mount-${++this.mountCounter}`);
      await mkdir(dir, { recursive: true });
      const placed = planCopy({ sources: selection.sources, dest: '/', destIsExistingDir: true, sourceArgCount: 1, instruction: 'COPY' });
      await applyCopy(dir, placed, {});
      const only = selection.sources.length === 1 && !selection.sources[0].isDir ? join(dir, selection.sources[0].name) : dir;
      return { path: only, release: () => rm(dir, { recursive: true, force: true }) };
    }
    const state = input.kind === 'stage' ? await ctx.stageState(input.stage) : await ctx.imageState(input.ref);
    const snapshotter = await ctx.snapshotter();
    const chain = await ctx.materialize(state);
    // A read-only mount sees the stage as it is; `rw` gets a throwaway writable snapshot, as in BuildKit.
    if (mount.type === 'bind' && mount.readonly) {
      const view = await snapshotter.view(chain);
      return { path: await resolveInRoot(await view.mount(), mount.source), release: () => view.release() };
    }
    const active = await snapshotter.prepare(chain);
    const root = await active.mount();
    return { path: await resolveInRoot(root, mount.source), release: () => active.remove() };
  }

  private describeInput(input: StepInput): string {
    switch (input.kind) {
      case 'context':
        return 'the downloaded sources';
      case 'stage':
        return `stage ${this.deps.stageName(input.stage)}`;
      case 'image':
        return `image ${input.ref}`;
    }
  }

  private async defineCopy(step: CopyStep, state: StageState, stage: PlannedStage): Promise<StepDefinition> {
    const { ctx } = this.deps;
    const local = step.sources.filter((s) => !isRemoteSource(s));
    const remote = step.sources.filter((s) => isRemoteSource(s));
    const remoteSources = remote.length > 0 ? await planRemoteSources(step, remote, ctx) : undefined;
    let contentKey: string;
    let contextSelection: SourceSelection | undefined;
    if (step.from.kind === 'context') {
      if (local.length > 0) contextSelection = await this.deps.context.select(local, { exclude: step.exclude, parents: step.parents });
      contentKey = contextSelection?.digest ?? 'none';
    } else {
      contentKey = await this.inputContentKey(step.from, local);
    }
    const fields = {
      instruction: step.instruction,
      sources: canonicalJson(step.sources),
      dest: step.dest,
      chown: step.chown ?? '',
      chmod: step.chmod ?? '',
      link: String(step.link),
      parents: String(step.parents),
      exclude: canonicalJson(step.exclude),
      unpack: String(step.unpack ?? 'auto'),
      checksum: step.checksum ?? '',
      inline: canonicalJson(step.inlineSources),
      workdir: step.workdir,
    };
    const definition = { kind: 'copy', ...fields, content: contentKey, remote: remoteSources?.keyParts ?? [], epoch: this.deps.sourceDateEpoch ?? null };
    // --link layers do not depend on what is below them, so their record is shared by any parent;
    // a --chown by name still reads the parent's /etc/passwd, so then the parent counts.
    const chownByName = step.chown !== undefined && !/^\d+(:\d+)?$/.test(step.chown);
    const recordKey = stepKey(step.link && !chownByName ? undefined : state.key, definition);
    const key = step.link && !chownByName ? sha256(canonicalJson([state.key, recordKey])) : recordKey;
    return {
      key,
      recordKey,
      inputs: this.inputs(step, state, stage, key, fields, {
        content: contextSelection
          ? { kind: 'selection', summary: contextSelection.summary }
          : { kind: 'digest', what: this.describeInput(step.from), digest: canonicalJson([contentKey, remoteSources?.keyParts ?? []]) },
      }),
      execute: async (progress) => this.executeCopy(step, state, contextSelection, (await remoteSources?.fetch()) ?? [], progress),
    };
  }

  private async executeCopy(step: CopyStep, state: StageState, contextSelection: SourceSelection | undefined, remoteSources: SelectedSource[], progress: StepProgress): Promise<LayerRecord> {
    const { ctx } = this.deps;
    const snapshotter = await ctx.snapshotter();
    const parentChain = await ctx.materialize(state);
    const active = await snapshotter.prepare(step.link ? undefined : parentChain);
    let sourceView: SnapshotView | undefined;
    let committed = false;
    try {
      const rootfs = await active.mount();
      let sources: SelectedSource[] = [...remoteSources];
      const local = step.sources.filter((s) => !isRemoteSource(s));
      if (step.from.kind === 'context') {
        sources.push(...(contextSelection?.sources ?? []));
      } else if (local.length > 0) {
        const from = step.from.kind === 'stage' ? await ctx.stageState(step.from.stage) : await ctx.imageState(step.from.ref);
        const view = await snapshotter.view(await ctx.materialize(from));
        sourceView = view;
        const root = await view.mount();
        sources.push(...(await this.deps.treeSelector(root).select(local, { exclude: step.exclude, parents: step.parents })).sources);
      }
      sources.push(...(await inlineSources(step, ctx.tmpDir, progress.id)));
      const ownerRoot = step.link && step.chown ? await this.parentRootForNames(state, step.chown) : undefined;
      const chown = step.chown ? await this.resolveChown(ownerRoot?.path ?? rootfs, step.chown) : undefined;
      await ownerRoot?.release();
      const destHost = await resolveInRoot(rootfs, step.dest);
      const destIsExistingDir = (await lstat(destHost).catch(() => undefined))?.isDirectory() ?? false;
      if (step.instruction === 'ADD' && step.from.kind === 'context') {
        // As BuildKit: archives from the context are unpacked unless --unpack=false; downloaded ones only with --unpack=true.
        const unpack = (source: SelectedSource): boolean => (remoteSources.includes(source) ? step.unpack === true : step.unpack !== false);
        sources = await extractArchiveSources(sources, ctx.tmpDir, step, unpack);
      }
      const placed = planCopy({ sources, dest: step.dest, destIsExistingDir, sourceArgCount: step.sources.length, instruction: step.instruction });
      await applyCopy(rootfs, placed, { chown, chmod: step.chmod !== undefined ? parseChmod(step.chmod) : undefined });
      await sourceView?.release();
      sourceView = undefined;
      const layer = await ctx.commitLayer(active, step.link ? undefined : parentChain);
      committed = true;
      return layer;
    } finally {
      await sourceView?.release();
      if (!committed) await active.remove();
    }
  }

  /** COPY --link builds on an empty filesystem; names in --chown are still looked up in the stage's /etc/passwd. */
  private async parentRootForNames(state: StageState, chown: string): Promise<{ path: string; release(): Promise<void> } | undefined> {
    if (/^\d+(:\d+)?$/.test(chown)) return undefined;
    const snapshotter = await this.deps.ctx.snapshotter();
    const view = await snapshotter.view(await this.deps.ctx.materialize(state));
    return { path: await view.mount(), release: () => view.release() };
  }

  private async resolveChown(rootfs: string, chown: string): Promise<Ownership> {
    return resolveOwner(rootfs, chown);
  }

  private async defineWorkdir(step: WorkdirStep, state: StageState, stage: PlannedStage): Promise<StepDefinition> {
    const fields = { path: step.path, user: step.user };
    const key = stepKey(state.key, { kind: 'workdir', ...fields, epoch: this.deps.sourceDateEpoch ?? null });
    return {
      key,
      recordKey: key,
      inputs: this.inputs(step, state, stage, key, fields),
      execute: async () => {
        const { ctx } = this.deps;
        const snapshotter = await ctx.snapshotter();
        const parentChain = await ctx.materialize(state);
        const active = await snapshotter.prepare(parentChain);
        try {
          const rootfs = await active.mount();
          const owner = step.user ? await this.resolveChown(rootfs, step.user) : { uid: 0, gid: 0 };
          await mkdirAllInRoot(rootfs, step.path, owner);
          return await ctx.commitLayer(active, parentChain);
        } catch (err) {
          await active.remove();
          throw err;
        }
      },
    };
  }
}

/** Heredoc sources of COPY/ADD become files of a private directory, selected like any source. */
async function inlineSources(step: CopyStep, tmpDir: string, stepId: number): Promise<SelectedSource[]> {
  if (step.inlineSources.length === 0) return [];
  const dir = join(tmpDir, `inline-${stepId}`);
  await mkdir(dir, { recursive: true });
  const now = Math.floor(Date.now() / 1000);
  const result: SelectedSource[] = [];
  for (const file of step.inlineSources) {
    const hostPath = join(dir, file.name);
    await writeFile(hostPath, file.content);
    result.push({
      path: file.name,
      name: file.name,
      isDir: false,
      preserveOwner: false,
      entries: [{ rel: '', hostPath, type: 'file', mode: file.mode, uid: 0, gid: 0, size: Buffer.byteLength(file.content), mtime: now }],
    });
  }
  return result;
}
