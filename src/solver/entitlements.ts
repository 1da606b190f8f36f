/**
 * Entitlements, as BuildKit and buildx have them: a RUN step that leaves the sandbox needs the build's
 * grant. network.host: the host's network (`RUN --network=host`, or every RUN of a build with
 * `--network host`); security.insecure: `RUN --security=insecure` (every capability, no seccomp filter).
 * The check covers every step of every stage the build needs, on every platform, before anything runs.
 */
import type { BuildPlan, RunStep } from '../frontend/index.js';
import { GantryError } from '../util/index.js';
import { runNetwork, type NetworkMode } from './exec-context.js';

export const ENTITLEMENTS = ['network.host', 'security.insecure'] as const;
export type Entitlement = (typeof ENTITLEMENTS)[number];

export function isEntitlement(name: string): name is Entitlement {
  return (ENTITLEMENTS as readonly string[]).includes(name);
}

/** The entitlements a RUN step needs on a build whose network is `buildNetwork`. */
export function requiredEntitlements(step: RunStep, buildNetwork: NetworkMode): Entitlement[] {
  const needed: Entitlement[] = [];
  if (runNetwork(step, buildNetwork) === 'host') needed.push('network.host');
  if (step.security === 'insecure') needed.push('security.insecure');
  return needed;
}

/** Fails, naming the first step that needs an entitlement the build was not granted (and how many more do). */
export function checkEntitlements(plans: BuildPlan[], buildNetwork: NetworkMode, granted: ReadonlySet<Entitlement>): void {
  const denied: Array<{ step: RunStep; entitlement: Entitlement }> = [];
  const seen = new Set<string>();
  for (const plan of plans) {
    for (const stage of plan.stages) {
      for (const step of stage.steps) {
        if (step.kind !== 'run') continue;
        for (const entitlement of requiredEntitlements(step, buildNetwork)) {
          // The same line planned for several platforms is one refusal.
          const key = `${step.source.file}:${step.source.startLine}:${entitlement}`;
          if (!granted.has(entitlement) && !seen.has(key)) denied.push({ step, entitlement });
          seen.add(key);
        }
      }
    }
  }
  const [first] = denied;
  if (!first) return;
  const { step, entitlement } = first;
  const what = entitlement === 'network.host' ? "the host's network" : 'every capability and no seccomp filter (--security=insecure)';
  const more = denied.length > 1 ? ` (${denied.length - 1} more step${denied.length > 2 ? 's' : ''} also need${denied.length > 2 ? '' : 's'} an entitlement)` : '';
  throw new GantryError(`${step.label} asks for ${what}, which needs the ${entitlement} entitlement, and this build was not granted it${more}`, {
    location: { file: step.source.file, line: step.source.startLine, column: 1, lineText: step.source.original.split('\n')[0] },
    hint: `grant it with \`gantry build --allow ${entitlement}\`, or for every build in the gantry config file: "entitlements": ["${entitlement}"]`,
  });
}
