/**
 * A build stage while it is planned: its place in the stage graph, the image it starts from, and the
 * state the instructions evolve (image config, variables, working directory, user, declared args),
 * mirroring BuildKit's dispatch state.
 */
import type { ContainerConfig, HealthConfig, Platform } from '../image/index.js';
import type { Instruction, StageDefinition } from './instructions.js';
import type { PlannedStep, ResolvedImage } from './plan-types.js';
import { EnvList, splitKeyValue } from './shell-lexer.js';

/** Docker's PATH for Linux containers, set when an image does not define one. */

export interface StageCommand {
  instruction: Instruction;
  /**
   * Stages this command reads from: for COPY --from the one source; for RUN one per --mount (undefined
   * for a bind mount of the build context).
   */
  sources: Array<StageState | undefined>;
  fromOnBuild: boolean;
}

/** An ARG in effect in a stage: its name and value (undefined when declared without one). */
export interface BuildArgInEffect {
  key: string;
  value?: string;
}

export class StageState {
  /** Set for stages written in the Dockerfile; undefined for an image used by COPY --from or a mount. */
  readonly definition?: StageDefinition;
  /** The base name after expansion: an image reference, a stage name or "scratch". */
  baseName: string;
  /** Name used in progress labels: the stage name, "stage-N", or "" for a lone stage. */
  labelName: string;
  /** `FROM --platform`, then the platform the stage is built for. */
  platform?: Platform;
  base?: StageState;
  /** Stages this one reads from, with the line of the instruction that reads. */
  readonly deps = new Map<StageState, number>();
  commands: StageCommand[] = [];
  commandTotal = 0;
  /** MAINTAINER of this stage. */
  author?: string;
  commandIndex = 0;
  dispatched = false;
  resolved = false;
  onBuildInitialized = false;
  resolvedImage?: ResolvedImage;

  // What the instructions evolve.
  os = 'linux';
  config: ContainerConfig = {};
  env = new EnvList();
  workdir = '/';
  user = '';
  buildArgs: BuildArgInEffect[] = [];
  workdirSet = false;
  cmdLine?: number;
  entrypointLine?: number;
  healthcheckLine?: number;
  baseConfig: ContainerConfig = {};
  /** What the last step's config snapshot can share with the next. */
  readonly snapshots = new SnapshotMemo();
  readonly steps: PlannedStep[] = [];

  constructor(definition: StageDefinition | undefined, baseName: string) {
    this.definition = definition;
    this.baseName = baseName;
    this.labelName = definition?.name ?? (definition ? `stage-${definition.index}` : '');
  }

  get name(): string | undefined {
    return this.definition?.name;
  }

  /** Takes over what the base stage ended with, as a stage built on another stage does. */
  inheritFromBase(): void {
    const base = this.base;
    if (!base) return;
    this.platform = base.platform;
    this.os = base.os;
    this.config = cloneConfig(base.config);
    // ONBUILD triggers of a stage run in the stages built on it, and do not carry further.
    delete this.config.OnBuild;
    this.env = base.env.clone();
    this.workdir = base.workdir;
    this.user = base.user;
    this.buildArgs = [...base.buildArgs];
    this.workdirSet = base.workdirSet;
  }
}

export function cloneConfig(config: ContainerConfig): ContainerConfig {
  return structuredClone(config);
}

/** Sets variables in an image config's Env list (in place when present), as one new list. */
export function setConfigEnv(config: ContainerConfig, pairs: ReadonlyArray<readonly [string, string]>): void {
  const env = config.Env ? [...config.Env] : [];
  // One index of the list for all pairs: ENV with many pairs must not rescan it for each.
  const at = new Map<string, number>();
  env.forEach((entry, i) => {
    const key = splitKeyValue(entry)[0];
    if (!at.has(key)) at.set(key, i);
  });
  for (const [key, value] of pairs) {
    const i = at.get(key);
    if (i !== undefined) env[i] = `${key}=${value}`;
    else {
      at.set(key, env.length);
      env.push(`${key}=${value}`);
    }
  }
  config.Env = env;
}

/**
 * The parts of a stage's config last snapshotted, with their snapshots. Dispatch replaces a config's
 * lists and maps rather than changing them, so a part still identical to the one last seen reuses its
 * (frozen) snapshot: a step costs what it changes, not a copy of the whole config (thousands of LABEL
 * or EXPOSE lines made planning quadratic in time and memory).
 */
export class SnapshotMemo {
  private readonly parts = new Map<string, { source: object; snapshot: object }>();

  part<T extends object>(field: string, source: T, make: (source: T) => T): T {
    const last = this.parts.get(field);
    if (last?.source === source) return last.snapshot as T;
    const snapshot = Object.freeze(make(source));
    this.parts.set(field, { source, snapshot });
    return snapshot;
  }
}

/**
 * The config as BuildKit serializes it: only the fields Docker's image config defines, empty ones
 * left out (Go's omitempty), map keys sorted as Go writes them. Parts unchanged since the last snapshot
 * taken with `memo` are shared with it.
 */
export function snapshotConfig(config: ContainerConfig, memo = new SnapshotMemo()): ContainerConfig {
  const out: ContainerConfig = {};
  const list = (list: string[]) => [...list];
  if (config.User) out.User = config.User;
  if (config.ExposedPorts && Object.keys(config.ExposedPorts).length > 0) out.ExposedPorts = memo.part('ExposedPorts', config.ExposedPorts, emptyObjectMap);
  if (config.Env && config.Env.length > 0) out.Env = memo.part('Env', config.Env, list);
  if (config.Entrypoint && config.Entrypoint.length > 0) out.Entrypoint = memo.part('Entrypoint', config.Entrypoint, list);
  if (config.Cmd && config.Cmd.length > 0) out.Cmd = memo.part('Cmd', config.Cmd, list);
  if (config.Volumes && Object.keys(config.Volumes).length > 0) out.Volumes = memo.part('Volumes', config.Volumes, emptyObjectMap);
  if (config.WorkingDir) out.WorkingDir = config.WorkingDir;
  if (config.Labels && Object.keys(config.Labels).length > 0) {
    out.Labels = memo.part('Labels', config.Labels, (labels) => Object.fromEntries(sortedKeys(labels).map((key) => [key, labels[key]!])));
  }
  if (config.StopSignal) out.StopSignal = config.StopSignal;
  if (config.ArgsEscaped) out.ArgsEscaped = true;
  if (config.Healthcheck) out.Healthcheck = memo.part('Healthcheck', config.Healthcheck, snapshotHealthcheck);
  if (config.OnBuild && config.OnBuild.length > 0) out.OnBuild = memo.part('OnBuild', config.OnBuild, list);
  if (config.Shell && config.Shell.length > 0) out.Shell = memo.part('Shell', config.Shell, list);
  return out;
}
function snapshotHealthcheck(health: HealthConfig): HealthConfig {
  const out: HealthConfig = {};
  if (health.Test && health.Test.length > 0) out.Test = [...health.Test];
  if (health.Interval) out.Interval = health.Interval;
  if (health.Timeout) out.Timeout = health.Timeout;
  if (health.StartPeriod) out.StartPeriod = health.StartPeriod;
  if (health.StartInterval) out.StartInterval = health.StartInterval;
  if (health.Retries) out.Retries = health.Retries;
  return out;
}

/** The `{}` every key of ExposedPorts and Volumes maps to, shared. */
const EMPTY: Record<string, never> = Object.freeze({});

function emptyObjectMap(map: Record<string, Record<string, never>>): Record<string, Record<string, never>> {
  return Object.fromEntries(sortedKeys(map).map((key) => [key, EMPTY]));
}

/**
 * Go sorts map keys byte-wise when it writes JSON. Strings without surrogates compare the same as
 * UTF-16 and as UTF-8, so only keys with characters above U+FFFF are encoded to compare.
 */
function sortedKeys(map: Record<string, unknown>): string[] {
  return Object.keys(map)
    .map((key) => ({ key, bytes: /[\ud800-\udfff]/.test(key) ? Buffer.from(key) : undefined }))
    .sort((a, b) => {
      if (a.bytes || b.bytes) return Buffer.compare(a.bytes ?? Buffer.from(a.key), b.bytes ?? Buffer.from(b.key));
      return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
    })
    .map(({ key }) => key);
}
