/**
 * Why a step missed the cache: the first input that differs from the most recent build of the same
 * step, in plain words ("build arg VERSION: 1 → 2", "src/f7.txt content changed", "parent step
 * missed"). Inputs are compared in the order a user would look for them.
 */
import { shortDigest } from '../util/index.js';
import type { StepInputs } from '../store/index.js';

export interface MissContext {
  previous: StepInputs | undefined;
  current: StepInputs;
  /** Whether the step before this one (in this build) missed. */
  parentMissed: boolean;
  /** A cache disabled for this step (--no-cache, --no-cache-filter). */
  cacheDisabled?: string;
  /** Why a record with the same key could not be used (e.g. its layer blob was pruned). */
  recordUnusable?: string;
  /** Compares two content summaries (the context module's explainer). */
  explainContent(previous: unknown, current: unknown): string | undefined;
}

export function explainMiss(ctx: MissContext): string {
  if (ctx.cacheDisabled) return ctx.cacheDisabled;
  const { previous, current } = ctx;
  if (ctx.recordUnusable) return ctx.recordUnusable;
  if (!previous) return 'first build of this step';
  if (previous.key === current.key) return 'no cache record for this step (pruned or built elsewhere)';

  if (previous.platform !== current.platform) return `platform: ${previous.platform} → ${current.platform}`;
  if (previous.base && current.base && (previous.base.digest !== current.base.digest || previous.base.name !== current.base.name)) {
    return previous.base.name === current.base.name
      ? `base image ${current.base.name}: ${shortDigest(previous.base.digest)}… → ${shortDigest(current.base.digest)}…`
      : `base image changed: ${previous.base.name} → ${current.base.name}`;
  }
  if (previous.instruction !== current.instruction) return `instruction changed: ${previous.instruction} → ${current.instruction}`;

  const argChange = diffPairs('build arg', previous.buildArgs, current.buildArgs);
  if (argChange) return argChange;
  const envChange = diffPairs('env', previous.env.map(splitEnv), current.env.map(splitEnv));
  if (envChange) return envChange;
  for (const name of new Set([...Object.keys(previous.fields), ...Object.keys(current.fields)])) {
    const before = previous.fields[name];
    const after = current.fields[name];
    if (before !== after) return `${name}: ${before || '(none)'} → ${after || '(none)'}`;
  }
  const before = previous.content;
  const now = current.content;
  if (before?.kind === 'selection' && now?.kind === 'selection') {
    const contentChange = ctx.explainContent(before.summary, now.summary);
    if (contentChange) return contentChange;
  } else if (before?.kind === 'digest' && now?.kind === 'digest' && before.digest !== now.digest) {
    return `content of ${now.what} changed`;
  }
  if (previous.parentKey !== current.parentKey) return ctx.parentMissed ? 'parent step missed' : 'parent step differs from the last build';
  return 'inputs changed';
}

function splitEnv(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
}

function diffPairs(what: string, before: Array<[string, string]>, after: Array<[string, string]>): string | undefined {
  const old = new Map(before);
  const now = new Map(after);
  for (const [name, value] of now) {
    if (!old.has(name)) return `${what} ${name} added (${value})`;
    if (old.get(name) !== value) return `${what} ${name}: ${old.get(name)} → ${value}`;
  }
  for (const name of old.keys()) if (!now.has(name)) return `${what} ${name} removed`;
  return undefined;
}
