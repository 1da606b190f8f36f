/**
 * selectSources: what a COPY/ADD step reads from a directory tree (the build context, or a stage's
 * root file system for COPY --from), with BuildKit's semantics, and the digest the cache keys on.
 *
 * Per source, as BuildKit's COPY (FollowSymlinks, AllowWildcard, CopyDirContentsOnly):
 * - the path is joined onto "/" and cleaned, so "../x" is "x" at the root;
 * - the part before the first wildcard component is resolved inside the root, following symlinks;
 *   the rest is matched with filepath.Match against paths below it, without following symlinks
 *   and without descending into a matching directory;
 * - each match is resolved following symlinks (a matched link copies its target, under the link's
 *   name); a directory contributes its contents, in which symlinks are entries, not followed;
 * - with --parents, the source is split at "/./" (or taken whole from the root): the part before is
 *   resolved as above, the part after is a pattern (with "**") that selects what is kept below it,
 *   with its parent directories;
 * - --exclude patterns apply to paths below each match.
 * For the build context, .dockerignore'd paths do not exist.
 */
import { readlinkSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { GantryError, errnoCode, type SourceLocation, digestHex, sha256, type Digest } from '../util/index.js';
import type { IgnoreMatcher } from './dockerignore.js';
import { entryFromStats, entryPayloads, entryRecord, type SelectedEntry } from './entries.js';
import { Glob, GlobSyntaxError, containsWildcards } from './glob.js';
import { baseName, clampToRoot, joinRelative } from './go-path.js';
import { Yielder, hashFiles, type FileHasher, type HashJob } from './hashing.js';
import { PatternMatcher, type ParentMatch } from './pattern-matcher.js';
import { lstatOrUndefined, resolveInRoot, type HiddenPredicate } from './root-fs.js';
import type { FileIdentity, StatCache } from './stat-cache.js';
import { DEFAULT_SUMMARY_LIMIT, SUMMARY_FORMAT, summarizeSource, type SelectionSummary } from './summary.js';
import { collectedEntry, existsInside, readDirectory, walkMatchDirectory, type CollectedEntry, type WalkRules } from './walk.js';

export interface SelectOptions {
  /** The build's .dockerignore rules (only for the build context). */
  ignore?: IgnoreMatcher;
  /** COPY --exclude patterns, matched against paths below each match. */
  exclude?: readonly string[];
  /** COPY --parents. */
  parents?: boolean;
  /** Digests of unchanged files are taken from here, and new ones recorded. */
  statCache?: StatCache;
  /**
   * Let a wildcard that matches nothing select nothing, as BuildKit does, instead of failing.
   * A plain path that does not exist always fails.
   */
  allowEmptyWildcard?: boolean;
  /**
   * The owner to record for every entry instead of the one on disk. Docker sends build-context
   * files as 0:0, so the solver passes { uid: 0, gid: 0 } for the context; a stage's files keep
   * their owners.
   */
  ownership?: { uid: number; gid: number };
  /** How messages name the root: "the build context" (default), 'stage "builder"'... */
  rootLabel?: string;
  /** The instruction's location, attached to errors. */
  location?: SourceLocation;
  /** Reads and hashes a file; by default a fast built-in reader. */
  hashFile?: FileHasher;
  /** Entries a summary keeps per source (default 2000); deeper directories are folded past it. */
  summaryLimit?: number;
}

/** One thing a source matched, with everything to copy for it. */
export interface SourceMatch {
  /** The source as written. */
  source: string;
  /** Index of the source in the list given to selectSources. */
  sourceIndex: number;
  /** Path of the match relative to the root ('.' for the root), before its own symlink is followed. */
  path: string;
  /** The name a non-directory match takes inside a destination directory. */
  name: string;
  /**
   * entries[0] (path '') is the match itself. A directory's contents follow in tree order (parents
   * before children, siblings by name); with --parents the match is the directory the source's
   * parents are kept relative to.
   */
  entries: SelectedEntry[];
}

export interface SelectionStats {
  /** Entries selected, over all matches. */
  entries: number;
  directoriesRead: number;
  /** Files whose content was read and hashed. */
  filesHashed: number;
  bytesHashed: number;
  /** Files whose digest came from the stat cache. */
  cacheHits: number;
}

export interface Selection {
  /** Covers every selected entry's path, type, mode bits, owner and content, per source in order. */
  digest: Digest;
  /** Matches in source order; within a source in path order. */
  matches: SourceMatch[];
  /** A compact description to keep for explaining a later cache miss. */
  summary: SelectionSummary;
  stats: SelectionStats;
}

interface InternalMatch {
  sourceIndex: number;
  source: string;
  path: string;
  name: string;
  collected: CollectedEntry[];
}

export async function selectSources(root: string, sources: readonly string[], options: SelectOptions = {}): Promise<Selection> {
  const selector = new Selector(resolve(root), options);
  await selector.checkRoot();
  const matches: InternalMatch[] = [];
  for (const [index, source] of sources.entries()) {
    matches.push(...(await (options.parents ? selector.selectWithParents(index, source) : selector.select(index, source))));
  }
  if (options.ownership !== undefined) {
    const { uid, gid } = options.ownership;
    for (const match of matches) {
      for (const { entry } of match.collected) {
        entry.uid = uid;
        entry.gid = gid;
      }
    }
  }
  const stats = await selector.hash(matches);
  return assemble(sources, matches, stats, options.summaryLimit ?? DEFAULT_SUMMARY_LIMIT);
}

class Selector {
  private readonly rules: WalkRules;
  private readonly ignore: IgnoreMatcher | undefined;
  private readonly hidden: HiddenPredicate | undefined;

  constructor(
    private readonly root: string,
    private readonly options: SelectOptions,
  ) {
    const ignore = options.ignore !== undefined && options.ignore.patterns.length > 0 ? options.ignore : undefined;
    this.ignore = ignore;
    this.rules = {
      root,
      rootLabel: options.rootLabel ?? 'the build context',
      ignore,
      exclude:
        options.exclude && options.exclude.length > 0
          ? new PatternMatcher(options.exclude, { origin: '--exclude', locate: () => options.location })
          : undefined,
      yielder: new Yielder(),
      counters: { directoriesRead: 0, includeMatches: 0 },
    };
    this.hidden =
      ignore &&
      ((path, stats, isFinal) => {
        if (!ignore.isIgnored(path)) return false;
        if (!stats.isDirectory() || !ignore.exceptionsMayMatchInside(path)) return true;
        // An ignored directory on the way may still hold what is asked for; the path's last
        // component exists only if something inside it is not ignored.
        return isFinal && !existsInside(this.rules, `${root}/${path}`, path, ignore.matchWithParent(path, undefined));
      });
  }

  async checkRoot(): Promise<void> {
    try {
      if ((await stat(this.root)).isDirectory()) return;
    } catch (err) {
      throw new GantryError(`${this.rules.rootLabel} (${this.root}) cannot be read: ${errnoCode(err) ?? String(err)}`, { location: this.options.location, cause: err });
    }
    throw new GantryError(`${this.rules.rootLabel} (${this.root}) is not a directory`, { location: this.options.location });
  }

  /** A plain COPY/ADD source. */
  async select(sourceIndex: number, source: string): Promise<InternalMatch[]> {
    const { paths, wildcard } = this.expand(source);
    if (paths.length === 0) {
      if (this.options.allowEmptyWildcard) return [];
      throw this.notFound(source, true);
    }
    const out: InternalMatch[] = [];
    for (const path of paths) {
      const match = await this.collect(sourceIndex, source, path, undefined);
      if (match === undefined) throw wildcard ? this.unresolvableMatch(source, path) : this.notFound(source, false);
      out.push(match);
    }
    return out;
  }

  /** A COPY --parents source: "pivot/./pattern", or a pattern taken from the root. */
  async selectWithParents(sourceIndex: number, source: string): Promise<InternalMatch[]> {
    const cut = source.indexOf('/./');
    const pivotSource = cut === -1 ? '/' : source.slice(0, cut);
    const patternSource = cut === -1 ? source : source.slice(cut + 3);
    const pattern = clampToRoot(patternSource);
    const include = pattern === '.' ? undefined : new PatternMatcher([pattern], { origin: `source "${source}"`, locate: () => this.options.location });
    const wildcard = containsWildcards(pivotSource) || containsWildcards(patternSource);
    if (!wildcard && resolveInRoot(this.root, clampToRoot(`${pivotSource}/${pattern}`), true, this.hidden).stats === undefined) {
      throw this.notFound(source, false);
    }
    const pivot = this.expand(pivotSource, source);
    const includedBefore = this.rules.counters.includeMatches;
    const out: InternalMatch[] = [];
    for (const path of pivot.paths) {
      const match = await this.collect(sourceIndex, source, path, include);
      if (match === undefined) throw pivot.wildcard ? this.unresolvableMatch(source, path) : this.notFound(source, false);
      out.push(match);
    }
    const nothingIncluded = pivot.paths.length === 0 || (include !== undefined && this.rules.counters.includeMatches === includedBefore);
    if (wildcard && nothingIncluded && !this.options.allowEmptyWildcard) throw this.notFound(source, true);
    return out;
  }

  /**
   * The root-relative paths `path` names: itself, or what its wildcards match. `source` is what
   * messages quote.
   */
  private expand(path: string, source = path): { paths: string[]; wildcard: boolean } {
    const clamped = clampToRoot(path);
    const parts = clamped === '.' ? [] : clamped.split('/');
    const first = parts.findIndex(containsWildcards);
    if (first === -1) return { paths: [clamped], wildcard: false };
    let glob: Glob;
    try {
      glob = new Glob(parts.slice(first).join('/'));
    } catch (err) {
      if (err instanceof GlobSyntaxError) {
        throw new GantryError(`invalid source pattern "${source}": ${err.reason}`, {
          hint: 'escape a literal "[", "*", "?" or "\\" with a backslash',
          location: this.options.location,
        });
      }
      throw err;
    }
    const base = resolveInRoot(this.root, first === 0 ? '.' : parts.slice(0, first).join('/'), true, this.hidden);
    if (base.stats === undefined) throw this.notFound(source, true);
    if (!base.stats.isDirectory()) return { paths: [], wildcard: true };
    return { paths: this.findMatches(base.path, glob, this.ignore), wildcard: true };
  }

  /** Paths below `base` that `glob` matches (relative to `base`), without entering matches or links. */
  private findMatches(base: string, glob: Glob, ignore: IgnoreMatcher | undefined): string[] {
    const out: string[] = [];
    const maxDepth = glob.maxSegments();
    const visit = (absolute: string, fromRoot: string, fromBase: string, depth: number, ignoreState: ParentMatch | undefined): void => {
      for (const child of readDirectory(this.rules, absolute, fromRoot || '.', false)) {
        const childFromRoot = joinRelative(fromRoot, child.name);
        const childFromBase = joinRelative(fromBase, child.name);
        const childAbsolute = `${absolute}/${child.name}`;
        const state = ignore?.matchWithParent(childFromRoot, ignoreState);
        if (state?.matched) {
          const mayExist = child.isDirectory() && (ignore as IgnoreMatcher).exceptionsMayMatchInside(childFromRoot);
          if (!mayExist || !existsInside(this.rules, childAbsolute, childFromRoot, state)) continue;
        }
        if (glob.matches(childFromBase)) out.push(childFromRoot);
        else if (child.isDirectory() && depth + 1 < maxDepth) visit(childAbsolute, childFromRoot, childFromBase, depth + 1, state);
      }
    };
    const fromRoot = base === '.' ? '' : base;
    visit(fromRoot === '' ? this.root : `${this.root}/${fromRoot}`, fromRoot, '', 0, fromRoot === '' ? undefined : ignore?.matchWithParent(fromRoot, undefined));
    return out;
  }

  /** Everything one match selects; undefined when it does not exist. */
  private async collect(sourceIndex: number, source: string, path: string, include: PatternMatcher | undefined): Promise<InternalMatch | undefined> {
    const resolved = resolveInRoot(this.root, path, true, this.hidden);
    if (resolved.stats === undefined) return undefined;
    const absolute = resolved.path === '.' ? this.root : `${this.root}/${resolved.path}`;
    const matchEntry = entryFromStats('', absolute, resolved.stats);
    if (matchEntry === undefined) {
      throw new GantryError(`"${path}" (from "${source}") is a socket, which cannot be copied into an image`, { location: this.options.location });
    }
    const collected: CollectedEntry[] = [collectedEntry(matchEntry, resolved.stats)];
    if (resolved.stats.isDirectory()) {
      const ignoreState = resolved.path === '.' ? undefined : this.ignore?.matchWithParent(resolved.path, undefined);
      await walkMatchDirectory({ ...this.rules, include }, resolved.path, ignoreState, collected);
    }
    return { sourceIndex, source, path, name: baseName(path), collected };
  }

  /** Fills in file digests from the stat cache or by hashing. */
  async hash(matches: readonly InternalMatch[]): Promise<SelectionStats> {
    const stats: SelectionStats = { entries: 0, directoriesRead: this.rules.counters.directoriesRead, filesHashed: 0, bytesHashed: 0, cacheHits: 0 };
    const byPath = new Map<string, CollectedEntry[]>();
    for (const match of matches) {
      stats.entries += match.collected.length;
      for (const item of match.collected) {
        if (item.entry.type !== 'file') continue;
        const same = byPath.get(item.entry.sourcePath);
        if (same) same.push(item);
        else byPath.set(item.entry.sourcePath, [item]);
      }
    }
    const cache = this.options.statCache;
    const jobs: HashJob[] = [];
    for (const [path, items] of byPath) {
      const digest = cache?.lookup(path, (items[0] as CollectedEntry).identity as FileIdentity);
      if (digest === undefined) {
        jobs.push({ absolutePath: path, size: (items[0] as CollectedEntry).entry.size });
        continue;
      }
      stats.cacheHits++;
      for (const item of items) item.entry.digest = digest;
    }
    try {
      await hashFiles(
        jobs,
        (job, digest) => {
          const items = byPath.get(job.absolutePath) as CollectedEntry[];
          for (const item of items) item.entry.digest = digest;
          cache?.record(job.absolutePath, (items[0] as CollectedEntry).identity as FileIdentity, digest);
          stats.filesHashed++;
          stats.bytesHashed += job.size;
        },
        this.rules.yielder,
        this.options.hashFile,
      );
    } catch (err) {
      const code = errnoCode(err);
      if (code === undefined) throw err;
      const file = typeof (err as { path?: unknown }).path === 'string' ? ((err as { path: string }).path.slice(this.root.length + 1) || '.') : 'a file';
      throw new GantryError(`cannot read "${file}" in ${this.rules.rootLabel}: ${code}`, {
        hint: code === 'ENOENT' ? 'it changed while gantry was reading the sources; run the build again' : 'make it readable by the user running gantry, or exclude it in .dockerignore',
        location: this.options.location,
        cause: err,
      });
    }
    return stats;
  }

  /** The error for a source that selects nothing, with the likeliest reason as a hint. */
  private notFound(source: string, wildcard: boolean): GantryError {
    const label = this.rules.rootLabel;
    const message = wildcard
      ? `no source files were specified: "${source}" matches nothing in ${label} (${this.root})`
      : `"${source}" not found in ${label} (${this.root})`;
    return new GantryError(message, { hint: this.notFoundHint(source, wildcard), location: this.options.location });
  }

  /** The error for a wildcard match that cannot be followed: a symlink whose target is missing. */
  private unresolvableMatch(source: string, path: string): GantryError {
    const label = this.rules.rootLabel;
    const link = resolveInRoot(this.root, path, false, this.hidden);
    const target = link.stats?.isSymbolicLink() ? readlinkSync(`${this.root}/${link.path}`) : undefined;
    const what = target === undefined ? 'cannot be resolved' : `is a symlink to "${target}", which does not exist in ${label}`;
    return new GantryError(`"${path}" (matched by "${source}") ${what}`, {
      hint: `a matched symlink is copied as its target, and links resolve inside ${label} (${this.root}); fix or remove the link, or narrow the pattern`,
      location: this.options.location,
    });
  }

  private notFoundHint(source: string, wildcard: boolean): string {
    const clamped = clampToRoot(this.options.parents ? withoutPivotMarker(source) : source);
    if (this.ignore !== undefined) {
      const onDisk = wildcard ? this.unignoredMatches(clamped) : resolveInRoot(this.root, clamped, true).stats !== undefined ? [clamped] : [];
      const excluded = onDisk.find((p) => this.ignore?.isIgnored(p));
      if (excluded !== undefined) {
        const why = this.ignore.describeExclusion(excluded) as string;
        return wildcard
          ? `what it matches is excluded by ${why} (e.g. "${excluded}")`
          : `it is excluded by ${why}; remove that pattern or add an exception such as "!${excluded}"`;
      }
    }
    const link = resolveInRoot(this.root, clamped, false, this.hidden);
    if (link.stats?.isSymbolicLink()) {
      return `"${link.path}" is a symlink whose target does not exist in ${this.rules.rootLabel}`;
    }
    if (cleanedEscapes(source)) {
      return `"${source}" is read as "${clamped}": a source cannot leave ${this.rules.rootLabel}, so "../" at its top is dropped`;
    }
    const suggestion = wildcard ? undefined : this.similarName(clamped);
    if (suggestion !== undefined) return `did you mean "${suggestion}"?`;
    return `source paths are relative to the root of ${this.rules.rootLabel}`;
  }

  /** What a wildcard source would match if .dockerignore did not apply. */
  private unignoredMatches(clamped: string): string[] {
    const parts = clamped.split('/');
    const first = parts.findIndex(containsWildcards);
    const base = resolveInRoot(this.root, first <= 0 ? '.' : parts.slice(0, first).join('/'), true);
    if (base.stats?.isDirectory() !== true) return [];
    return this.findMatches(base.path, new Glob(parts.slice(first).join('/')), undefined);
  }

  /** A visible sibling whose name differs only in case or by a typo or two. */
  private similarName(clamped: string): string | undefined {
    if (clamped === '.') return undefined;
    const slash = clamped.lastIndexOf('/');
    const parent = slash === -1 ? '.' : clamped.slice(0, slash);
    const wanted = clamped.slice(slash + 1);
    const dir = resolveInRoot(this.root, parent, true, this.hidden);
    if (dir.stats?.isDirectory() !== true) return parent === '.' ? undefined : this.similarName(parent);
    const absolute = dir.path === '.' ? this.root : `${this.root}/${dir.path}`;
    let best: { name: string; distance: number } | undefined;
    for (const child of readDirectory(this.rules, absolute, dir.path, true)) {
      const candidate = joinRelative(dir.path, child.name);
      if (this.ignore?.isIgnored(candidate) || lstatOrUndefined(`${absolute}/${child.name}`) === undefined) continue;
      const distance = child.name.toLowerCase() === wanted.toLowerCase() ? 0 : editDistance(child.name, wanted);
      if (distance <= Math.min(2, Math.floor(wanted.length / 3)) && (best === undefined || distance < best.distance)) {
        best = { name: candidate, distance };
      }
    }
    return best?.name;
  }
}

/** A --parents source as a plain path: the "/./" marking where kept parents start is not part of it. */
function withoutPivotMarker(source: string): string {
  return source.replace('/./', '/');
}

/** Whether a source climbs above its root ("../x", "a/../../x"). */
function cleanedEscapes(source: string): boolean {
  let depth = 0;
  for (const part of source.split('/')) {
    if (part === '..') depth--;
    else if (part !== '' && part !== '.') depth++;
    if (depth < 0) return true;
  }
  return false;
}

/** Levenshtein distance, for "did you mean" hints. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

function assemble(sources: readonly string[], matches: readonly InternalMatch[], stats: SelectionStats, summaryLimit: number): Selection {
  const built = matches.map((match) => {
    const entries = match.collected.map((c) => c.entry);
    const payloads = entryPayloads(entries);
    return { match, entries, payloads, record: entryRecord(entries[0] as SelectedEntry, match.name, payloads[0] as string) };
  });
  let selectionText = 'gantry.selection/v1\n';
  const summaries = sources.map((source, index) => {
    const own = built.filter((b) => b.match.sourceIndex === index);
    const text = `source ${index}\n${own.map((b) => b.record).join('')}`;
    selectionText += text;
    return summarizeSource(source, digestHex(sha256(text)), own.map((b) => ({ path: b.match.path, entries: b.entries, payloads: b.payloads })), summaryLimit);
  });
  return {
    digest: sha256(selectionText),
    matches: built.map(({ match, entries }) => ({ source: match.source, sourceIndex: match.sourceIndex, path: match.path, name: match.name, entries })),
    summary: { format: SUMMARY_FORMAT, sources: summaries },
    stats,
  };
}
