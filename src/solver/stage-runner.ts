/**
 * Runs one planned stage: for each step, computes its cache key from its inputs, reuses the cached
 * layer on a hit, and otherwise runs the step (saying why it missed) and records the result.
 * Config-only steps change the config and history without a layer.
 */
import { rfc3339, type Digest } from '../util/index.js';
import type { PlannedStage, PlannedStep, StepInput } from '../frontend/index.js';
import type { HistoryEntry } from '../image/index.js';
import type { Progress, StepProgress } from '../progress/index.js';
import { stepIdentities } from './cache-key.js';
import type { CacheRecord, CacheStore, LayerRecord, StepInputs } from '../store/index.js';
import { explainMiss } from './explain.js';
import type { ExecContext } from './exec-context.js';
import type { StageState } from './state.js';

/** A step's key and the inputs behind it, plus whatever the execution needs that was computed on the way. */
export interface StepDefinition {
  key: Digest;
  /** Key of the cache record (differs from `key` for COPY --link, whose record ignores what is below). */
  recordKey: Digest;
  inputs: StepInputs;
  /** Runs the step; only called on a miss. */
  execute(progress: StepProgress): Promise<LayerRecord>;
}

export interface StepDefiner {
  define(step: Exclude<PlannedStep, { kind: 'config' }>, state: StageState, stage: PlannedStage): Promise<StepDefinition>;
}

export interface StageRunOptions {
  cache: CacheStore;
  progress: Progress;
  ctx: ExecContext;
  definer: StepDefiner;
  /** Why caching is off for this stage, if it is (--no-cache, --no-cache-filter). */
  cacheDisabled?: string;
  /** Identity parts shared by all steps: context dir and Dockerfile path. */
  identity: { context: string; dockerfile: string };
  /**
   * History `created` for new entries when SOURCE_DATE_EPOCH is set. Otherwise a layer step's entry
   * carries its cache record's time and config steps get theirs when the image is written, as
   * BuildKit does, so that a rebuild from cache gives the same image digest.
   */
  epochCreated?: string;
  /** Limits concurrent step executions across stages. */
  limit: <T>(task: () => Promise<T>) => Promise<T>;
  /** Shares identical steps running at once in different stages. */
  inflight: Map<Digest, Promise<CacheRecord>>;
  /** Per-step outcomes, for --explain. */
  report: StepReport[];
  /** Compares two content summaries (from the context selector). */
  explainContent(previous: unknown, current: unknown): string | undefined;
}

export interface StepReport {
  label: string;
  /** Dockerfile index of the step's stage. */
  stage: number;
  cached: boolean;
  seconds: number;
  cause?: string;
  record: CacheRecord;
}

export async function runStage(stage: PlannedStage, base: StageState, baseInfo: StepInputs['base'], opts: StageRunOptions): Promise<StageState> {
  let state = base;
  let parentMissed = false;
  let parentSeen = false;
  let stepIndex = 0;
  for (const step of stage.steps) {
    stepIndex++;
    const entry: HistoryEntry | undefined = step.history && {
      ...(opts.epochCreated ? { created: opts.epochCreated } : {}),
      created_by: step.history.createdBy,
      ...(step.history.comment ? { comment: step.history.comment } : {}),
    };
    // A step the frontend marks as adding no layer (config instructions, WORKDIR /) only changes the config.
    if (step.kind === 'config' || (step.kind === 'workdir' && step.history?.emptyLayer)) {
      state = { ...state, config: step.config, history: entry ? [...state.history, { ...entry, empty_layer: true }] : state.history };
      continue;
    }
    // Wait for the stages this step reads before announcing it, so progress shows it when it can start.
    await Promise.all(stepDependencies(step).map((index) => opts.ctx.stageState(index)));
    const progress = opts.progress.step(step.label);
    try {
      const definition = await opts.definer.define(step, state, stage);
      // The stage's base is an input of its first layer step; later steps see it through their parent.
      if (!parentSeen) definition.inputs.base = baseInfo;
      parentSeen = true;
      const identity = stepIdentities({ ...opts.identity, platform: stage.platform, stage: stage.name ?? String(stage.index), step: stepIndex });
      const outcome = await resolveStep(definition, identity, parentMissed, progress, opts);
      parentMissed = !outcome.cached;
      opts.report.push({ label: step.label, stage: stage.index, cached: outcome.cached, seconds: outcome.seconds, cause: outcome.cause, record: outcome.record });
      state = {
        ...state,
        key: definition.key,
        layers: [...state.layers, outcome.record.layer],
        history: [...state.history, { created: opts.epochCreated ?? outcome.record.createdAt, ...(entry ?? { created_by: step.label }) }],
        config: step.config,
      };
    } catch (err) {
      progress.error(err instanceof Error ? err.message.split('\n')[0] : String(err));
      throw err;
    }
  }
  return state;
}

async function resolveStep(
  definition: StepDefinition,
  identity: { platform: Digest; any: Digest },
  parentMissed: boolean,
  progress: StepProgress,
  opts: StageRunOptions,
): Promise<{ record: CacheRecord; cached: boolean; seconds: number; cause?: string }> {
  let unusable: string | undefined;
  if (!opts.cacheDisabled) {
    const record = await opts.cache.get(definition.recordKey);
    if (record && (await opts.ctx.store.content.has(record.layer.digest))) {
      progress.cached();
      await remember(opts, identity, definition.inputs);
      return { record, cached: true, seconds: progress.done() };
    }
    if (record) unusable = 'the cached layer was removed from the store';
  }
  const running = opts.inflight.get(definition.recordKey);
  if (running) {
    // The same step is running for another stage or platform (e.g. a FROM --platform=$BUILDPLATFORM
    // stage of a multi-platform build): it runs once, and this one reuses its result.
    const record = await running;
    progress.cached();
    await remember(opts, identity, definition.inputs);
    return { record, cached: true, seconds: progress.done() };
  }
  // Registered before any await, so a twin step that starts meanwhile finds it.
  let cause = '';
  const pending = (async () => {
    const previous = (await opts.cache.getInputs(identity.platform)) ?? (await opts.cache.getInputs(identity.any));
    cause = explainMiss({
      previous,
      current: definition.inputs,
      parentMissed,
      cacheDisabled: opts.cacheDisabled,
      recordUnusable: unusable,
      explainContent: opts.explainContent,
    });
    progress.miss(cause);
    return opts.limit(async () => {
      const started = process.hrtime.bigint();
      const layer = await definition.execute(progress);
      const record: CacheRecord = {
        key: definition.recordKey,
        layer,
        description: progress.label,
        createdAt: rfc3339(Date.now()),
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      };
      await opts.cache.put(record);
      return record;
    });
  })();
  opts.inflight.set(definition.recordKey, pending);
  pending.catch(() => opts.inflight.delete(definition.recordKey));
  const record = await pending;
  await remember(opts, identity, definition.inputs);
  return { record, cached: false, seconds: progress.done(), cause };
}

/** Stages a step reads files from (COPY --from, RUN --mount from=). */
function stepDependencies(step: Exclude<PlannedStep, { kind: 'config' }>): number[] {
  const inputs: StepInput[] = [];
  if (step.kind === 'copy') inputs.push(step.from);
  if (step.kind === 'run') for (const mount of step.mounts) if ((mount.type === 'bind' || mount.type === 'cache') && mount.from) inputs.push(mount.from);
  return inputs.flatMap((input) => (input.kind === 'stage' ? [input.stage] : []));
}

async function remember(opts: StageRunOptions, identity: { platform: Digest; any: Digest }, inputs: StepInputs): Promise<void> {
  await opts.cache.putInputs(identity.platform, inputs);
  await opts.cache.putInputs(identity.any, inputs);
}
