/** Reads `gantry build --progress json` output: which steps hit or missed the cache, and why. */
import type { ProgressEvent } from '../../src/progress/events.js';

export interface StepOutcome {
  label: string;
  cached: boolean;
  cause?: string;
  /** Whether the step printed output (a RUN that actually ran). */
  logged: boolean;
}

export function stepOutcomes(stderr: string): StepOutcome[] {
  const steps = new Map<number, StepOutcome>();
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as ProgressEvent;
    switch (event.type) {
      case 'step-start':
        steps.set(event.id, { label: event.label, cached: false, logged: false });
        break;
      case 'step-cached':
        (steps.get(event.id) as StepOutcome).cached = true;
        break;
      case 'step-miss':
        (steps.get(event.id) as StepOutcome).cause = event.cause;
        break;
      case 'step-log':
        (steps.get(event.id) as StepOutcome).logged = true;
        break;
      default:
        break;
    }
  }
  // FROM lines are not cache steps.
  return [...steps.values()].filter((s) => !/\] FROM |^FROM /.test(s.label));
}

/** "hit" / "miss: cause" per step, keyed by the instruction part of the label. */
export function summary(stderr: string): string[] {
  return stepOutcomes(stderr).map((s) => `${s.label.replace(/^\[[^\]]*\] /, '')} → ${s.cached ? 'hit' : `miss: ${s.cause}`}`);
}
