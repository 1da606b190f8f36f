/** What COPY/ADD and bind mounts need from a file tree (the build context or a stage's filesystem). */
import type { Digest } from '../util/index.js';
import type { SelectedSource } from './ops/copy-plan.js';

export interface SourceSelection {
  /** Digest of exactly the selected content (paths, types, contents, modes, owners, link targets). */
  digest: Digest;
  /** Compact summary kept to explain the next miss. */
  summary: unknown;
  sources: SelectedSource[];
}

export interface SelectOptions {
  exclude: string[];
  parents: boolean;
}

export interface SourceSelector {
  /** Selects `patterns` (relative to the tree's root, wildcards allowed) from the tree. */
  select(patterns: string[], options: SelectOptions): Promise<SourceSelection>;
  /** The first differing input between two summaries, in words. */
  explain(previous: unknown, current: unknown): string | undefined;
}
