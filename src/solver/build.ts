/**
 * `gantry build`: plans the Dockerfile with the frontend for each target platform, runs the stages
 * the target needs (independent stages and platforms concurrently, bounded by the cores; identical
 * steps, such as those of `FROM --platform=$BUILDPLATFORM` stages, run once), and writes the target
 * as an image, or an image index for several platforms. Nothing runs before every needed step is known
 * to be allowed (entitlements) and runnable here (emulators, the sandbox network's slirp4netns); the
 * sandbox network is started by the first RUN that uses it and stopped with the build.
 */
import { rfc3339, concurrencyLimiter, type Digest } from '../util/index.js';
import { availableParallelism } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { planBuild, type BuildPlan, type PlannedStage, type ResolvedImage } from '../frontend/index.js';
import { openRuntime, type ContainerRuntime, requireEmulation, requireSlirp4netns, SandboxNetwork } from '../exec/index.js';
import { formatPlatform, hostPlatform, parsePlatformFlag, normalizeReference, MediaType, type ContainerConfig, type Descriptor, type ImageConfig, type ImageManifest, type Platform, imageIndex } from '../image/index.js';
import type { Progress } from '../progress/index.js';
import { openSnapshotter, type Snapshotter, type SnapshotterName } from '../snapshot/index.js';
import { type Store, CacheStore, type CacheRecord, type LayerRecord, type StepInputs } from '../store/index.js';
import { baseImageKey, scratchKey } from './cache-key.js';
import { runNetwork, type ExecContext, type NetworkMode, type SecretSource } from './exec-context.js';
import { checkEntitlements, type Entitlement } from './entitlements.js';
import { commitImage } from './image-commit.js';
import { BaseImages, type RemoteResolver } from './base-images.js';
import { LayerStore } from './layers.js';
import { runStage, type StepReport } from './stage-runner.js';
import { StepDefinitions } from './step-definitions.js';
import { ContextSources, treeSelector } from './context-sources.js';
import type { StageState } from './state.js';

export interface BuildOptions {
  store: Store;
  contextDir: string;
  dockerfile: { path: string; displayName: string; text: string };
  buildArgs: Record<string, string>;
  target?: string;
  /** Target platforms; empty means this machine's. Several give an image index. */
  platforms: Platform[];
  labels: Record<string, string>;
  network: NetworkMode;
  /** What RUN steps may ask for beyond the sandbox (RUN --network=host, --security=insecure). */
  entitlements: ReadonlySet<Entitlement>;
  runtime: string;
  noCache: boolean;
  noCacheFilter: string[];
  pull: boolean;
  secrets: Map<string, SecretSource>;
  sshAgents: Map<string, string>;
  sourceDateEpoch?: number;
  snapshotter?: SnapshotterName;
  checkConfig?: string;
  progress: Progress;
  /** Pulls base images that are not local (or all, with --pull); absent when no registry access is wired. */
  resolveRemote?: RemoteResolver;
  signal?: AbortSignal;
}

export interface PlatformResult {
  platform: Platform;
  descriptor: Descriptor;
  config: ImageConfig;
  manifest: ImageManifest;
}

export interface BuildResult {
  /** The image, stored but not named: a manifest, or for several platforms an index of them. */
  descriptor: Descriptor;
  images: PlatformResult[];
  /** Each platform's final layers, in the order of `images`. */
  layers: LayerRecord[][];
  report: StepReport[];
  plans: BuildPlan[];
}

/** What every platform of a build shares: store, cache, snapshots, runtime, context, base images. */
interface BuildSession {
  options: BuildOptions;
  baseImages: BaseImages;
  contextSources: ContextSources;
  cache: CacheStore;
  layers: LayerStore;
  shared: Omit<ExecContext, 'stageState' | 'imageState'>;
  created: string;
  limit: <T>(task: () => Promise<T>) => Promise<T>;
  inflight: Map<Digest, Promise<CacheRecord>>;
  report: StepReport[];
  abort: AbortController;
}

/**
 * Builds the image and stores it unnamed; naming it, its outputs, cache export and push are the
 * build use case's (app/build.ts). The caller holds a store session for as long as it uses the result.
 */
export async function build(options: BuildOptions): Promise<BuildResult> {
  const { store, progress } = options;
  const tmpDir = join(store.tmpDir, `build-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmpDir, { recursive: true });
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let network: Promise<SandboxNetwork> | undefined;
  try {
    const platforms = options.platforms.length > 0 ? options.platforms : [hostPlatform()];
    const baseImages = new BaseImages(store, { pull: options.pull, resolveRemote: options.resolveRemote, progress });
    const contextSources = await ContextSources.open(store, options.contextDir, options.dockerfile.path);
    const plans = await Promise.all(
      platforms.map((targetPlatform) =>
        planBuild(options.dockerfile.text, {
          file: options.dockerfile.displayName,
          buildArgs: options.buildArgs,
          target: options.target,
          targetPlatform,
          buildPlatform: hostPlatform(),
          resolveImage: (ref, platform) => baseImages.resolve(ref, platform),
          isIgnored: (path) => contextSources.isIgnored(path),
          checkConfig: options.checkConfig,
        }),
      ),
    );
    const warned = new Set<string>();
    for (const warning of plans.flatMap((plan) => plan.warnings)) {
      const text = `${warning.rule}: ${warning.detail}${warning.location ? ` (line ${warning.location.line})` : ''}`;
      if (!warned.has(text)) progress.warning(text);
      warned.add(text);
    }
    // Nothing runs before every platform's RUN steps are known to be allowed and runnable here.
    checkEntitlements(plans, options.network, options.entitlements);
    for (const platform of new Set(plans.flatMap((plan) => plan.stages.filter((st) => st.steps.some((step) => step.kind === 'run')).map((st) => formatPlatform(st.platform))))) {
      await requireEmulation(parsePlatformFlag(platform));
    }
    const runSteps = plans.flatMap((plan) => plan.stages.flatMap((st) => st.steps)).filter((step) => step.kind === 'run');
    if (runSteps.some((step) => runNetwork(step, options.network) === 'default')) await requireSlirp4netns();

    const cache = new CacheStore(store.cacheDir);
    const layers = new LayerStore(store, { sourceDateEpoch: options.sourceDateEpoch });
    let snapshotter: Promise<Snapshotter> | undefined;
    let runtime: Promise<ContainerRuntime> | undefined;
    const shared: BuildSession['shared'] = {
      store,
      contextDir: options.contextDir,
      snapshotter: () =>
        (snapshotter ??= openSnapshotter(store.snapshotsDir, options.snapshotter).then(async (s) => {
          await s.removeStale();
          if (s.name === 'native') progress.info('snapshots: overlay mounts are not available here; using the copy snapshotter');
          return s;
        })),
      runtime: () =>
        (runtime ??= openRuntime(options.runtime, store.runtimeDirs).then(async (r) => {
          await r.removeStale();
          return r;
        })),
      materialize: async (state) => layers.materialize(await shared.snapshotter(), state.layers),
      commitLayer: async (active, parentChain) => layers.commit(active, parentChain),
      secrets: options.secrets,
      sshAgents: options.sshAgents,
      network: options.network,
      sandboxNetwork: async () => (await (network ??= SandboxNetwork.start())).attachment,
      tmpDir,
      signal: abort.signal,
    };
    const session: BuildSession = {
      options,
      baseImages,
      contextSources,
      cache,
      layers,
      shared,
      created: rfc3339(options.sourceDateEpoch !== undefined ? options.sourceDateEpoch * 1000 : Date.now()),
      limit: concurrencyLimiter(stepParallelism()),
      inflight: new Map(),
      report: [],
      abort,
    };

    let states: StageState[];
    try {
      states = await Promise.all(plans.map((plan, i) => runPlan(session, plan, platforms[i], platforms.length > 1)));
    } finally {
      await contextSources.save();
    }

    const images: PlatformResult[] = [];
    for (const [i, plan] of plans.entries()) {
      const finalState = states[i];
      const config: ContainerConfig = { ...finalState.config };
      if (Object.keys(options.labels).length > 0) config.Labels = { ...config.Labels, ...options.labels };
      const image = await commitImage(store, {
        platform: finalState.platform,
        config,
        layers: finalState.layers,
        history: finalState.history,
        created: session.created,
        author: plan.stages.find((st) => st.index === plan.target)?.author ?? finalState.author,
      });
      images.push({ ...image, platform: finalState.platform });
    }
    const root = images.length === 1 ? images[0].descriptor : await writeIndex(store, images);
    return { descriptor: root, images, layers: states.map((state) => state.layers), report: session.report, plans };
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    await network?.then((n) => n.close(), () => undefined);
    await rm(tmpDir, { recursive: true, force: true });
  }
}

/** Runs one platform's plan: every stage it needs, independent stages concurrently; returns the target's state. */
async function runPlan(session: BuildSession, plan: BuildPlan, platform: Platform, labelled: boolean): Promise<StageState> {
  const { options } = session;
  const progress = labelled ? options.progress.forPlatform(formatPlatform(platform)) : options.progress;
  const stageStates = new Map<number, Promise<StageState>>();
  const ctx: ExecContext = {
    ...session.shared,
    stageState: (index) => {
      const pending = stageStates.get(index);
      if (!pending) throw new Error(`stage ${index} is not part of this build's plan`);
      return pending;
    },
    imageState: async (ref) => session.baseImages.stateOf(await session.baseImages.resolve(ref, platform)),
  };
  const definer = new StepDefinitions({
    ctx,
    context: session.contextSources,
    treeSelector,
    sourceDateEpoch: options.sourceDateEpoch,
    stageName: (index) => plan.stages.find((st) => st.index === index)?.name ?? String(index),
  });
  const noCacheFilter = new Set(options.noCacheFilter.map((name) => name.toLowerCase()));
  const runOne = async (stage: PlannedStage): Promise<StageState> => {
    const { base, baseInfo } = await stageBase(stage, session.baseImages, ctx, progress);
    const filtered = noCacheFilter.has(stage.name ?? '') || noCacheFilter.has(String(stage.index));
    return runStage(stage, base, baseInfo, {
      cache: session.cache,
      progress,
      ctx,
      definer,
      cacheDisabled: options.noCache ? '--no-cache' : filtered ? `--no-cache-filter ${stage.name ?? stage.index}` : undefined,
      identity: { context: options.contextDir, dockerfile: options.dockerfile.path },
      epochCreated: options.sourceDateEpoch !== undefined ? session.created : undefined,
      limit: session.limit,
      inflight: session.inflight,
      report: session.report,
      explainContent: (a, b) => session.contextSources.explain(a, b),
    });
  };
  for (const stage of plan.stages) {
    const pending = runOne(stage);
    pending.catch(() => session.abort.abort());
    stageStates.set(stage.index, pending);
  }
  const results = await Promise.allSettled([...stageStates.values()]);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw firstRealError(results, failure.reason);
  return stageStates.get(plan.target) as Promise<StageState>;
}

/**
 * How many steps run at once across stages and platforms: twice the cores (at least 4), because a RUN
 * often waits on the network or disk rather than computing; layer compression has its own pool.
 * GANTRY_MAX_PARALLELISM overrides it.
 */
function stepParallelism(): number {
  const fromEnv = Number(process.env.GANTRY_MAX_PARALLELISM);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return Math.max(4, 2 * availableParallelism());
}

/** The image index of a multi-platform build, a descriptor with `platform` for each image. */
async function writeIndex(store: Store, images: PlatformResult[]): Promise<Descriptor> {
  const blob = await store.content.writeJson(imageIndex(images.map((image) => ({ ...image.descriptor, platform: image.platform }))));
  return { mediaType: MediaType.ociIndex, digest: blob.digest, size: blob.size };
}

/** The cache records a cache export writes: the steps of the final image (mode=min) or every step the build ran or reused (max). */
export function recordsToExport(result: Pick<BuildResult, 'report' | 'plans'>, mode: 'min' | 'max'): CacheRecord[] {
  const finals = result.plans.map(finalStages);
  return result.report.filter((r) => mode === 'max' || finals.some((set) => set.has(r.stage))).map((r) => r.record);
}

/** The target stage and the stages it is built FROM: their steps make the final image (cache mode=min). */
function finalStages(plan: BuildPlan): Set<number> {
  const stages = new Set<number>();
  let current = plan.stages.find((s) => s.index === plan.target);
  while (current) {
    stages.add(current.index);
    const base = current.base;
    current = base.kind === 'stage' ? plan.stages.find((s) => s.index === base.stage) : undefined;
  }
  return stages;
}

/** The first error that is not just a consequence of another stage's failure aborting this one. */
function firstRealError(results: PromiseSettledResult<StageState>[], fallback: unknown): unknown {
  for (const r of results) {
    if (r.status === 'rejected' && !(r.reason instanceof Error && r.reason.name === 'AbortError')) return r.reason;
  }
  return fallback;
}

async function stageBase(stage: PlannedStage, baseImages: BaseImages, ctx: ExecContext, progress: Progress): Promise<{ base: StageState; baseInfo: StepInputs['base'] }> {
  switch (stage.base.kind) {
    case 'scratch':
      return {
        base: { platform: stage.platform, key: scratchKey(stage.platform), layers: [], history: [], config: stage.baseConfig },
        baseInfo: { name: 'scratch', digest: formatPlatform(stage.platform) },
      };
    case 'stage': {
      const parent = await ctx.stageState(stage.base.stage);
      return { base: { ...parent, config: stage.baseConfig }, baseInfo: undefined };
    }
    case 'image': {
      const resolved: ResolvedImage = stage.base.image;
      const from = progress.step(stage.label);
      const state = await baseImages.stateOf(resolved);
      from.done();
      return {
        base: { ...state, key: baseImageKey(resolved.digest), config: stage.baseConfig },
        baseInfo: { name: normalizeReference(resolved.ref), digest: resolved.digest },
      };
    }
  }
}

