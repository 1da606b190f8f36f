/**
 * The contract every attack suite keeps. A suite feeds hostile input to gantry (mutated Dockerfiles,
 * crafted archives and images, a misbehaving registry, kills at random moments, a full disk) and
 * counts what happened. The bar is zero findings: every trial either succeeds or fails with a clear
 * error, and afterwards the store is intact, nothing escaped to the host and no secret leaked.
 *
 * Suites live one per file in attack/suites/ and default-export an AttackSuite; `attack/run.ts` finds
 * them there, and test/attack/ runs each at the bounded scale inside `npm test`.
 */

/** What went wrong in one trial. */
export type FindingKind =
  /** An internal error, a stack trace, a crash signal, or an out-of-memory death instead of a message. */
  | 'crash'
  /** A read or write outside the store, the build context or the container. */
  | 'escape'
  /** A secret found where it must not be. */
  | 'leak'
  /** A blob that does not match its digest, a dangling reference, an unreadable store. */
  | 'corrupt'
  /** A trial that did not finish within its time limit. */
  | 'hang';

export interface Finding {
  kind: FindingKind;
  /** The input or trial, short enough for a report line (e.g. "mutant 1234: byte flip at 56 of heredoc.Dockerfile"). */
  input: string;
  detail: string;
}

export interface SuiteResult {
  /** What a trial is, plural, for the report ("mutated Dockerfiles", "SIGKILL trials"). */
  unit: string;
  /** Trials run. */
  tried: number;
  /** Trials that ended as they must: a success, or a clear error with nothing lost. */
  handled: number;
  findings: Finding[];
  /** Further figures for the report, e.g. { 'faults injected': 120, 'places scanned': 4031 }. */
  figures?: Record<string, number>;
}

export interface SuiteOptions {
  /** `bounded`: the form `npm test` runs (seconds to a minute); `full`: the figures in the README. */
  scale: 'bounded' | 'full';
  /** Seed for every random choice, so a finding can be replayed. */
  seed: number;
  /** A private directory for this suite's stores and files; removed afterwards. */
  workDir: string;
  log(line: string): void;
}

export interface AttackSuite {
  name: string;
  /** One line for the report. */
  title: string;
  /** Suites that mount, run containers or fill a disk need root; they are skipped (and say so) without it. */
  needsRoot: boolean;
  run(options: SuiteOptions): Promise<SuiteResult>;
}
