/**
 * The stage runner with a fake step definer: its keys and executions are the test's, so what is
 * checked is the runner's own logic — hits and misses against a real cache store, the miss causes,
 * a parent's miss, --no-cache, a record whose layer is gone, identical steps of two stages run once,
 * and config steps that add history without a layer. No root, no containers.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { PlannedStage, PlannedStep } from '../../src/frontend/index.js';
import { Progress, type ProgressEvent, type ProgressSink } from '../../src/progress/events.js';
import type { ExecContext } from '../../src/solver/exec-context.js';
import { runStage, type StageRunOptions, type StepDefiner, type StepDefinition, type StepReport } from '../../src/solver/stage-runner.js';
import type { StageState } from '../../src/solver/state.js';
import { CacheStore, type CacheRecord, type LayerRecord, type StepInputs } from '../../src/store/index.js';
import { concurrencyLimiter, sha256, type Digest } from '../../src/util/index.js';
import { tempDir } from '../helpers/gantry.js';

const platform = { os: 'linux', architecture: 'amd64' };

/** A RUN step as the planner would give it, with only what the runner reads. */
function runStep(command: string): PlannedStep {
  return { kind: 'run', label: `RUN ${command}`, history: { createdBy: `RUN ${command}` }, config: { Cmd: [command] }, mounts: [] } as unknown as PlannedStep;
}

function configStep(label: string): PlannedStep {
  return { kind: 'config', label, history: { createdBy: label, emptyLayer: true }, config: { Labels: { set: label } } } as unknown as PlannedStep;
}

function stageOf(steps: PlannedStep[], index = 0): PlannedStage {
  return { index, name: `stage${index}`, platform, steps } as unknown as PlannedStage;
}

/** Keys chain like the real definer's: a step's key depends on its parent's, and on a version the test can change. */
class FakeDefiner implements StepDefiner {
  readonly executed: string[] = [];
  readonly versions = new Map<string, string>();
  gate: Promise<void> = Promise.resolve();

  async define(step: Exclude<PlannedStep, { kind: 'config' }>, state: StageState): Promise<StepDefinition> {
    const version = this.versions.get(step.label) ?? 'v1';
    const key = sha256(`${state.key}|${step.label}|${version}`);
    const inputs: StepInputs = { key, parentKey: state.key, instruction: `${step.label} (${version})`, platform: 'linux/amd64', buildArgs: [], env: [], fields: {} };
    return {
      key,
      recordKey: key,
      inputs,
      execute: async () => {
        this.executed.push(step.label);
        await this.gate;
        return layerFor(`${step.label} ${version}`);
      },
    };
  }
}

function layerFor(content: string): LayerRecord {
  return { digest: sha256(`blob ${content}`), size: content.length, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', diffId: sha256(`tar ${content}`) };
}

class RecordingSink implements ProgressSink {
  readonly events: ProgressEvent[] = [];
  emit(event: ProgressEvent): void {
    this.events.push(event);
  }
  close(): void {}
  misses(): string[] {
    return this.events.flatMap((e) => (e.type === 'step-miss' ? [e.cause] : []));
  }
}

describe('the stage runner', () => {
  let dir: { path: string; cleanup(): Promise<void> };
  let cache: CacheStore;
  let blobs: Set<Digest>;
  let definer: FakeDefiner;
  let sink: RecordingSink;
  const base: StageState = { platform, key: sha256('base'), layers: [], history: [], config: {} };

  before(async () => {
    dir = await tempDir('stage-runner');
  });
  after(async () => dir.cleanup());
  beforeEach(async () => {
    cache = new CacheStore(`${dir.path}/cache-${Math.random().toString(36).slice(2)}`);
    blobs = new Set();
    definer = new FakeDefiner();
    sink = new RecordingSink();
  });

  function options(overrides: Partial<StageRunOptions> = {}): StageRunOptions & { report: StepReport[] } {
    const ctx = {
      // The runner asks the store whether a cached layer's blob is still there.
      store: { content: { has: async (digest: Digest) => blobs.has(digest) } },
      stageState: async () => base,
    } as unknown as ExecContext;
    return {
      cache,
      progress: new Progress(sink),
      ctx,
      definer,
      identity: { context: '/ctx', dockerfile: '/ctx/Dockerfile' },
      limit: concurrencyLimiter(4),
      inflight: new Map<Digest, Promise<CacheRecord>>(),
      report: [],
      explainContent: () => undefined,
      ...overrides,
    };
  }

  async function runAndKeepBlobs(stage: PlannedStage, opts = options()): Promise<StageState> {
    const state = await runStage(stage, base, { name: 'busybox', digest: sha256('busybox') }, opts);
    for (const layer of state.layers) blobs.add(layer.digest);
    return state;
  }

  it('runs every step of a first build and reuses all of them on the next', async () => {
    const stage = stageOf([runStep('a'), runStep('b')]);
    const first = await runAndKeepBlobs(stage);
    assert.deepEqual(definer.executed, ['RUN a', 'RUN b']);
    assert.deepEqual(sink.misses(), ['first build of this step', 'first build of this step']);
    const report = options();
    const second = await runAndKeepBlobs(stage, report);
    assert.deepEqual(definer.executed, ['RUN a', 'RUN b'], 'nothing ran again');
    assert.deepEqual(report.report.map((r) => r.cached), [true, true]);
    assert.deepEqual(second.layers, first.layers);
    assert.equal(second.key, first.key);
  });

  it('a changed step misses with its cause; the steps after it miss because their parent did', async () => {
    const stage = stageOf([runStep('a'), runStep('b')]);
    await runAndKeepBlobs(stage);
    definer.versions.set('RUN a', 'v2');
    sink.events.length = 0;
    await runAndKeepBlobs(stage);
    assert.deepEqual(definer.executed, ['RUN a', 'RUN b', 'RUN a', 'RUN b']);
    const [causeA, causeB] = sink.misses();
    assert.equal(causeA, 'instruction changed: RUN a (v1) → RUN a (v2)');
    assert.match(causeB ?? '', /parent/);
  });

  it('--no-cache runs everything and says so', async () => {
    const stage = stageOf([runStep('a')]);
    await runAndKeepBlobs(stage);
    sink.events.length = 0;
    await runAndKeepBlobs(stage, options({ cacheDisabled: '--no-cache' }));
    assert.deepEqual(definer.executed, ['RUN a', 'RUN a']);
    assert.deepEqual(sink.misses(), ['--no-cache']);
  });

  it('a cache record whose layer left the store is a miss that says so', async () => {
    const stage = stageOf([runStep('a')]);
    await runAndKeepBlobs(stage);
    blobs.clear();
    sink.events.length = 0;
    await runAndKeepBlobs(stage);
    assert.deepEqual(sink.misses(), ['the cached layer was removed from the store']);
  });

  it('the same step in two stages running at once runs once', async () => {
    let open!: () => void;
    definer.gate = new Promise((resolve) => (open = resolve));
    const shared = options();
    const both = Promise.all([runStage(stageOf([runStep('same')], 0), base, undefined, shared), runStage(stageOf([runStep('same')], 1), base, undefined, shared)]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    open();
    const [one, two] = await both;
    assert.deepEqual(definer.executed, ['RUN same']);
    assert.deepEqual(one.layers, two.layers);
    assert.deepEqual(shared.report.map((r) => r.cached).sort(), [false, true]);
  });

  it('config steps change the config and add history without a layer or a definition', async () => {
    const state = await runAndKeepBlobs(stageOf([configStep('LABEL set=1'), runStep('a'), configStep('LABEL set=2')]));
    assert.deepEqual(definer.executed, ['RUN a']);
    assert.equal(state.layers.length, 1);
    assert.deepEqual(state.history.map((h) => [h.created_by, h.empty_layer ?? false]), [['LABEL set=1', true], ['RUN a', false], ['LABEL set=2', true]]);
    assert.deepEqual(state.config, { Labels: { set: 'LABEL set=2' } });
  });
});
