/**
 * The solver's view of file trees through the context module: the build context (with .dockerignore,
 * the persistent stat cache, files owned by root as Docker sends them) and mounted stage filesystems.
 */
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import {
  copyIgnoredCheck,
  explainSelectionChange,
  loadDockerignore,
  selectSources,
  StatCache,
  type IgnoreMatcher,
  type SelectedEntry,
  type Selection,
  type SelectionSummary,
} from '../context/index.js';
import type { Store } from '../store/index.js';
import { sha256, GantryError } from '../util/index.js';
import type { CopyEntryType, SelectedSource, SourceEntry } from './ops/copy-plan.js';
import type { SelectOptions, SourceSelection, SourceSelector } from './sources.js';

export class ContextSources implements SourceSelector {
  readonly isIgnored: (contextPath: string) => boolean;
  private readonly selections = new Map<string, Promise<SourceSelection>>();

  private constructor(
    private readonly contextDir: string,
    private readonly ignore: IgnoreMatcher,
    private readonly statCache: StatCache,
  ) {
    this.isIgnored = copyIgnoredCheck(ignore);
  }

  static async open(store: Store, contextDir: string, dockerfilePath: string): Promise<ContextSources> {
    let real: string;
    try {
      real = await realpath(contextDir);
    } catch {
      throw new GantryError(`build context ${contextDir} does not exist`, { hint: 'pass the directory holding your files, e.g. `gantry build .`' });
    }
    const ignore = await loadDockerignore(real, dockerfilePath);
    const statCache = await StatCache.open(join(store.contextCacheDir, `${sha256(real).slice(7, 39)}.cache`));
    return new ContextSources(real, ignore, statCache);
  }

  /** Identical selections in one build (a COPY and its key, several stages) are computed once. */
  select(patterns: string[], options: SelectOptions): Promise<SourceSelection> {
    const key = JSON.stringify([patterns, options.exclude, options.parents]);
    let pending = this.selections.get(key);
    if (!pending) {
      pending = selectSources(this.contextDir, patterns, {
        ignore: this.ignore,
        exclude: options.exclude,
        parents: options.parents,
        statCache: this.statCache,
        ownership: { uid: 0, gid: 0 },
        // As BuildKit: a wildcard source that matches nothing copies nothing (a plain path must exist).
        allowEmptyWildcard: true,
      }).then((selection) => toSourceSelection(selection, false));
      this.selections.set(key, pending);
    }
    return pending;
  }

  explain(previous: unknown, current: unknown): string | undefined {
    return explainSelectionChange(previous as SelectionSummary, current as SelectionSummary);
  }

  /** Persists the stat cache so the next build reads no unchanged file. */
  async save(): Promise<void> {
    await this.statCache.save();
  }
}

/** Selects from a mounted stage or image filesystem: owners kept, no ignore rules, no stat cache. */
export function treeSelector(root: string, rootLabel = 'the source stage'): SourceSelector {
  return {
    select: async (patterns, options) =>
      toSourceSelection(await selectSources(root, patterns, { exclude: options.exclude, parents: options.parents, rootLabel, allowEmptyWildcard: true }), true),
    explain: (previous, current) => explainSelectionChange(previous as SelectionSummary, current as SelectionSummary),
  };
}

function toSourceSelection(selection: Selection, preserveOwner: boolean): SourceSelection {
  return {
    digest: selection.digest,
    summary: selection.summary,
    sources: selection.matches.map(
      (match): SelectedSource => ({
        path: match.path,
        name: match.name,
        isDir: match.entries[0]?.type === 'directory',
        preserveOwner,
        entries: match.entries.map(toSourceEntry),
      }),
    ),
  };
}

function toSourceEntry(entry: SelectedEntry): SourceEntry {
  return {
    rel: entry.path,
    hostPath: entry.sourcePath,
    type: copyType(entry),
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.size,
    mtime: entry.mtime,
    ...(entry.linkTarget !== undefined ? { linkTarget: entry.linkTarget } : {}),
    ...(entry.linkKey !== undefined ? { linkKey: entry.linkKey } : {}),
  };
}

function copyType(entry: SelectedEntry): CopyEntryType {
  switch (entry.type) {
    case 'file':
      return 'file';
    case 'directory':
      return 'dir';
    case 'symlink':
      return 'symlink';
    default:
      throw new GantryError(`cannot copy ${entry.sourcePath}: COPY of ${entry.type}s is not supported by gantry yet`, {
        hint: 'create special files in a RUN step (mkfifo, mknod)',
      });
  }
}
