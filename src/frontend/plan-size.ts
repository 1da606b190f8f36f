/**
 * A bound on how much a build plan may hold. Every step carries the stage's config, and a RUN its
 * variables and build args, so a stage with large variables multiplies them by its number of steps, and
 * thousands of config instructions each snapshot a growing config: the plan can grow far beyond the
 * Dockerfile. The size counted is the characters of the strings a step adds (labels, history, command,
 * environment) plus a nominal size for each list or map entry the step copies; parts shared with the
 * previous step cost nothing.
 */
import { GantryError } from '../util/index.js';
import type { ContainerConfig } from '../image/index.js';
import type { PlannedStep } from './plan-types.js';

/** The most a plan may hold, in characters (a real Dockerfile's plan is a few hundred kilobytes). */
export const MAX_PLAN_SIZE = 64 * 1024 * 1024;

/** What one list entry is counted as: a pointer and its share of the garbage a copied list leaves. */
const ENTRY_SIZE = 16;

/** What one map entry is counted as: about what V8 spends on it with hidden classes and garbage (measured). */
const MAP_ENTRY_SIZE = 128;

const CONFIG_PARTS = ['Env', 'Labels', 'ExposedPorts', 'Volumes', 'Cmd', 'Entrypoint', 'Shell', 'OnBuild'] as const;

export class PlanSize {
  private total = 0;

  /** Counts a stage's starting point: its config and variables. Throws a GantryError (no location) past the limit. */
  addStage(config: ContainerConfig, variables: readonly string[]): void {
    this.add(configSize(config, undefined) + stringsSize(variables));
  }

  /** Counts a planned step, against the stage's previous step. Throws a GantryError (no location) past the limit. */
  addStep(step: PlannedStep, previous: PlannedStep | undefined): void {
    let size = step.label.length + (step.history?.createdBy.length ?? 0) + configSize(step.config, previous?.config);
    switch (step.kind) {
      case 'run':
        size += stringsSize(step.args) + stringsSize(step.env) + step.buildArgs.length * ENTRY_SIZE;
        size += stringsSize(step.files.map((file) => file.content)) + step.mounts.length * ENTRY_SIZE;
        break;
      case 'copy':
        size += stringsSize(step.sources) + step.dest.length + stringsSize(step.inlineSources.map((file) => file.content));
        size += stringsSize(step.exclude);
        break;
      case 'workdir':
        size += step.path.length;
        break;
      case 'config':
        break;
    }
    this.add(size);
  }

  private add(size: number): void {
    this.total += size;
    if (this.total > MAX_PLAN_SIZE) {
      throw new GantryError(`the build plan grows past its limit of ${MAX_PLAN_SIZE} characters (64 MiB) here`, {
        hint:
          'every step records the stage\'s config, and every RUN its variables: look for large ARG or ENV values used by many ' +
          'steps, or thousands of LABEL, ENV or EXPOSE lines (one instruction can set many)',
      });
    }
  }
}

function stringsSize(strings: readonly string[]): number {
  let size = 0;
  for (const text of strings) size += ENTRY_SIZE + text.length;
  return size;
}

/** The entries of the config's lists and maps that are not shared with `previous`. */
function configSize(config: ContainerConfig, previous: ContainerConfig | undefined): number {
  let size = 0;
  for (const part of CONFIG_PARTS) {
    const value = config[part];
    if (!value || value === previous?.[part]) continue;
    size += Array.isArray(value) ? value.length * ENTRY_SIZE : Object.keys(value).length * MAP_ENTRY_SIZE;
  }
  return size;
}
