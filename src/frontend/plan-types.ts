/**
 * The contract between the Dockerfile frontend and the build engine.
 *
 * The frontend turns a Dockerfile, build args, a target and platforms into a BuildPlan: the stages the
 * target needs, each a list of fully expanded steps, with the image config after every step. All
 * Dockerfile semantics (expansion, ARG scoping, SHELL wrapping, ONBUILD triggers, history strings) live in
 * the frontend; the engine only executes steps and records layers. The frontend reaches base images only
 * through the `resolveImage` callback, so it has no dependency on the store, runtime or network.
 */
import type { ContainerConfig, Platform } from '../image/index.js';

/** Where a step came from, for messages and progress. */
export interface StepSource {
  file: string;
  startLine: number;
  endLine: number;
  /** The instruction as written (continuations joined), e.g. `RUN make all`. */
  original: string;
}

/** What the frontend needs to know about a base image; the engine's resolver supplies it. */
export interface ResolvedImage {
  /** Canonical reference the engine will build from (e.g. "docker.io/library/alpine:3.20"). */
  ref: string;
  /** Manifest digest, so the plan pins what it resolved. */
  digest: string;
  platform: Platform;
  /** The base image's container config (Env, WorkingDir, User, Cmd, Shell, OnBuild, ...). */
  config: ContainerConfig;
}

export type ImageResolver = (ref: string, platform: Platform) => Promise<ResolvedImage>;

export interface PlanOptions {
  /** Dockerfile name as the user gave it, for messages (file:line:col). */
  file: string;
  buildArgs: Record<string, string>;
  target?: string;
  /** The platform being built (TARGETPLATFORM). */
  targetPlatform: Platform;
  /** The platform gantry runs on (BUILDPLATFORM). */
  buildPlatform: Platform;
  resolveImage: ImageResolver;
  /** Decides whether a context path is excluded by .dockerignore (CopyIgnoredFile check). */
  isIgnored?: (contextPath: string) => boolean;
  /** Extra check configuration from the CLI (same syntax as the `# check=` directive). */
  checkConfig?: string;
}

export type StepBase = {
  /** Progress label, as BuildKit prints it: "[build 2/5] RUN make". */
  label: string;
  source: StepSource;
  /** History entry this step adds to the image (none for ONBUILD, as BuildKit). emptyLayer is true for config-only steps. */
  history?: { createdBy: string; emptyLayer: boolean; comment?: string };
  /** The image config after this step (the engine writes the final step's into the image). */
  config: ContainerConfig;
};

export type MountSharing = 'shared' | 'private' | 'locked';

export type RunMount =
  | { type: 'bind'; target: string; source: string; from: StepInput; readonly: boolean }
  | {
      type: 'cache';
      target: string;
      id: string;
      sharing: MountSharing;
      /** Seed content (from=...); source is the path inside it. */
      from?: StepInput;
      source: string;
      readonly: boolean;
      mode: number;
      uid: number;
      gid: number;
    }
  | { type: 'tmpfs'; target: string; size?: number }
  | { type: 'secret'; id: string; target?: string; env?: string; required: boolean; mode: number; uid: number; gid: number }
  | { type: 'ssh'; id: string; target: string; required: boolean; mode: number; uid: number; gid: number };

/** Where COPY/ADD sources or a mount's content come from. */
export type StepInput =
  | { kind: 'context' }
  /** A stage's Dockerfile index. */
  | { kind: 'stage'; stage: number }
  | { kind: 'image'; ref: string };

/** An inline file: a heredoc used as a COPY/ADD source or as a RUN script. */
export interface InlineFile {
  name: string;
  content: string;
  mode: number;
}

export type RunStep = StepBase & {
  kind: 'run';
  /** Full argv: shell form is already wrapped in the stage's SHELL. */
  args: string[];
  /** Process environment: the config Env plus the build args in effect that Env does not set. */
  env: string[];
  /** Build args in effect, in declaration order, for the cache key and history ("|2 A=1 B=2 ..."). */
  buildArgs: Array<[string, string]>;
  user: string;
  workdir: string;
  mounts: RunMount[];
  /** Heredoc scripts mounted read-only under /dev/pipes/ and executed. */
  files: InlineFile[];
  network: 'default' | 'none' | 'host';
  security: 'sandbox' | 'insecure';
};

export type CopyStep = StepBase & {
  kind: 'copy';
  instruction: 'COPY' | 'ADD';
  from: StepInput;
  /** Expanded source paths (context-relative, stage paths, or URLs/git for ADD). */
  sources: string[];
  /** Heredoc sources, in order, among `sources`. */
  inlineSources: InlineFile[];
  /** Expanded destination, absolute (resolved against the working dir); keeps a trailing slash if written. */
  dest: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  parents: boolean;
  exclude: string[];
  /** ADD only. */
  checksum?: string;
  keepGitDir?: boolean;
  /** ADD only: undefined = auto-extract local archives (Docker's default). */
  unpack?: boolean;
  /** The working directory and user in effect (for relative paths and --chown defaults). */
  workdir: string;
  user: string;
};

export type WorkdirStep = StepBase & {
  kind: 'workdir';
  /** Absolute, cleaned path to create (mode 0755, parents, owned by `user` when set). */
  path: string;
  user: string;
};

/** ENV, LABEL, CMD, ENTRYPOINT, EXPOSE, VOLUME, USER, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER, ARG. */
export type ConfigStep = StepBase & {
  kind: 'config';
  instruction: string;
};

export type PlannedStep = RunStep | CopyStep | WorkdirStep | ConfigStep;

export type StageBase =
  | { kind: 'scratch' }
  | { kind: 'stage'; stage: number }
  | { kind: 'image'; image: ResolvedImage };

export interface PlannedStage {
  /** The stage's index in the Dockerfile (0-based). */
  index: number;
  /** Lower-cased stage name, if named. */
  name?: string;
  base: StageBase;
  platform: Platform;
  /** FROM line source, for messages. */
  source: StepSource;
  /** Progress label of the FROM step, e.g. "[build 1/4] FROM docker.io/library/alpine:3.20@sha256:…". */
  label: string;
  /** Image author set by MAINTAINER in this stage, if any. */
  author?: string;
  /** Base config merged with nothing yet (what FROM gives this stage). */
  baseConfig: ContainerConfig;
  steps: PlannedStep[];
  /** Stage indices this stage needs (FROM stage, COPY --from, RUN --mount from). */
  dependsOn: number[];
}

export interface CheckWarning {
  rule: string;
  description: string;
  url: string;
  detail: string;
  level: 'warning' | 'error';
  location?: { file: string; line: number; column?: number };
}

export interface BuildPlan {
  /**
   * Only the stages the target needs, each after the stages it depends on. Stages refer to each other by
   * their Dockerfile index (PlannedStage.index); unneeded stages are not planned and their images not resolved.
   */
  stages: PlannedStage[];
  /** Dockerfile index of the target stage. */
  target: number;
  warnings: CheckWarning[];
}
