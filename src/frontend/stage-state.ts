/**
 * A build stage while it is planned: its place in the stage graph, the image it starts from, and the
 * state the instructions evolve (image config, variables, working directory, user, declared args),
 * mirroring BuildKit's dispatch state.
 */
import type { ContainerConfig, HealthConfig, Platform } from '../image/types.js';
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

/** Sets `key` in an image config's Env list, in place when present. */
export function setConfigEnv(config: ContainerConfig, key: string, value: string): void {
  const env = config.Env ? [...config.Env] : [];
  const at = env.findIndex((entry) => splitKeyValue(entry)[0] === key);
  if (at >= 0) env[at] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
  config.Env = env;
}

/**
 * The config as BuildKit serializes it: only the fields Docker's image config defines, empty ones
 * left out (Go's omitempty), map keys sorted as Go writes them.
 */
export function snapshotConfig(config: ContainerConfig): ContainerConfig {
  const out: ContainerConfig = {};
  if (config.User) out.User = config.User;
  if (config.ExposedPorts && Object.keys(config.ExposedPorts).length > 0) out.ExposedPorts = emptyObjectMap(config.ExposedPorts);
  if (config.Env && config.Env.length > 0) out.Env = [...config.Env];
  if (config.Entrypoint && config.Entrypoint.length > 0) out.Entrypoint = [...config.Entrypoint];
  if (config.Cmd && config.Cmd.length > 0) out.Cmd = [...config.Cmd];
  if (config.Volumes && Object.keys(config.Volumes).length > 0) out.Volumes = emptyObjectMap(config.Volumes);
  if (config.WorkingDir) out.WorkingDir = config.WorkingDir;
  if (config.Labels && Object.keys(config.Labels).length > 0) {
    out.Labels = Object.fromEntries(sortedKeys(config.Labels).map((key) => [key, config.Labels![key]!]));
  }
  if (config.StopSignal) out.StopSignal = config.StopSignal;
  if (config.ArgsEscaped) out.ArgsEscaped = true;
  if (config.Healthcheck) out.Healthcheck = snapshotHealthcheck(config.Healthcheck);
  if (config.OnBuild && config.OnBuild.length > 0) out.OnBuild = [...config.OnBuild];
  if (config.Shell && config.Shell.length > 0) out.Shell = [...config.Shell];
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

function emptyObjectMap(map: Record<string, Record<string, never>>): Record<string, Record<string, never>> {
  return Object.fromEntries(sortedKeys(map).map((key) => [key, {}]));
}

/** Go sorts map keys byte-wise when it writes JSON. */
function sortedKeys(map: Record<string, unknown>): string[] {
  return Object.keys(map).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}
