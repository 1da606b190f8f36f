/**
 * Walking what a source selects, BuildKit's way, in one pass:
 *
 * - the ignore rules (.dockerignore, by path from the root) decide what exists at all: an ignored
 *   file is never stat'ed or read; an ignored directory is entered only when an exception might
 *   re-include something inside it, and exists only if something inside it does;
 * - the include rules (COPY --parents) and exclude rules (COPY --exclude), by path from the match,
 *   decide what is copied: a directory that is not copied itself is still entered when something
 *   inside it might be, and appears (ahead of its contents) only if something inside it is copied;
 * - symlinks are entries of their own and are never followed.
 *
 * Entries come out in tree order: a directory, then its contents, siblings sorted by name.
 */
import { readdirSync, type BigIntStats, type Dirent } from 'node:fs';
import { GantryError, errnoCode } from '../util/index.js';
import { entryFromStats, type SelectedEntry } from './entries.js';
import { joinRelative } from './go-path.js';
import type { Yielder } from './hashing.js';
import type { ParentMatch, PatternMatcher } from './pattern-matcher.js';
import { lstatOrUndefined } from './root-fs.js';
import { fileIdentity, type FileIdentity } from './stat-cache.js';

/** An entry, and for a file the identity the stat cache keys its digest on. */
export interface CollectedEntry {
  entry: SelectedEntry;
  identity?: FileIdentity;
}

export function collectedEntry(entry: SelectedEntry, stats: BigIntStats): CollectedEntry {
  return entry.type === 'file' ? { entry, identity: fileIdentity(stats) } : { entry };
}

export interface WalkRules {
  /** Absolute root directory. */
  root: string;
  /** How messages name the root, e.g. "the build context". */
  rootLabel: string;
  ignore?: PatternMatcher;
  include?: PatternMatcher;
  exclude?: PatternMatcher;
  yielder: Yielder;
  counters: WalkCounters;
}

export interface WalkCounters {
  directoriesRead: number;
  /** Entries an include rule matched (whether or not an exclude rule then dropped them). */
  includeMatches: number;
}

/** Where the walk is: paths relative to the root (for ignore rules) and to the match (for the rest). */
interface Position {
  absolute: string;
  fromRoot: string;
  fromMatch: string;
  ignore: ParentMatch | undefined;
  include: ParentMatch | undefined;
  exclude: ParentMatch | undefined;
}

/**
 * Collects the contents of directory `fromRoot` (a match) into `out`. `ignoreState` is the ignore
 * result for the directory itself. Returns whether anything inside it exists once ignore rules
 * apply.
 */
export async function walkMatchDirectory(
  rules: WalkRules,
  fromRoot: string,
  ignoreState: ParentMatch | undefined,
  out: CollectedEntry[],
): Promise<boolean> {
  const absolute = fromRoot === '.' ? rules.root : `${rules.root}/${fromRoot}`;
  const position = { absolute, fromRoot: fromRoot === '.' ? '' : fromRoot, fromMatch: '', ignore: ignoreState, include: undefined, exclude: undefined };
  return walkDirectory(rules, position, ignoreState?.matched ?? false, false, out);
}

/**
 * `dirIgnored`: the directory is .dockerignore'd (it exists only through its contents).
 * `lenient`: it is not copied itself but searched for exceptions, so, as in Docker, an unreadable
 * one just holds nothing.
 */
async function walkDirectory(rules: WalkRules, dir: Position, dirIgnored: boolean, lenient: boolean, out: CollectedEntry[]): Promise<boolean> {
  const children = readDirectory(rules, dir.absolute, dir.fromRoot, lenient);
  let present = false;
  for (const child of children) {
    await rules.yielder.maybeYield();
    const fromRoot = joinRelative(dir.fromRoot, child.name);
    const fromMatch = joinRelative(dir.fromMatch, child.name);
    const absolute = `${dir.absolute}/${child.name}`;
    const ignore = rules.ignore?.matchWithParent(fromRoot, dir.ignore);
    const ignored = ignore?.matched ?? false;
    const isDirectory = child.isDirectory();
    if (ignored && !(isDirectory && (rules.ignore as PatternMatcher).exceptionsMayMatchInside(fromRoot))) continue;
    const include = rules.include?.matchWithParent(fromMatch, dir.include);
    const exclude = rules.exclude?.matchWithParent(fromMatch, dir.exclude);
    if (include?.matched) rules.counters.includeMatches++;
    const copied = (include?.matched ?? true) && !(exclude?.matched ?? false);

    if (!isDirectory) {
      present = true;
      if (!copied) continue;
      const stats = lstatOrUndefined(absolute);
      // Gone since the directory was read: it is not part of the selection.
      if (stats === undefined) continue;
      const entry = entryFromStats(fromMatch, absolute, stats);
      if (entry !== undefined) out.push(collectedEntry(entry, stats));
      continue;
    }

    const mayHoldCopied =
      (include === undefined || include.matched || (rules.include as PatternMatcher).inclusionsMayMatchInside(fromMatch)) &&
      (exclude === undefined || !exclude.matched || (rules.exclude as PatternMatcher).exceptionsMayMatchInside(fromMatch));
    if (!mayHoldCopied) {
      // Nothing at or below it is copied; it only matters whether it exists, and only when this
      // directory is ignored and exists only through its contents.
      if (dirIgnored && !present) present = !ignored || existsInside(rules, absolute, fromRoot, ignore);
      continue;
    }
    const stats = lstatOrUndefined(absolute);
    if (stats === undefined) continue;
    const placeholder = out.length;
    out.push({ entry: entryFromStats(fromMatch, absolute, stats) as SelectedEntry });
    const childPosition: Position = { absolute, fromRoot, fromMatch, ignore, include, exclude };
    const exists = (await walkDirectory(rules, childPosition, ignored, ignored || !copied, out)) || !ignored;
    present ||= exists;
    // Keep the directory if something inside is copied, or if it is copied itself and exists.
    if (out.length === placeholder + 1 && !(exists && copied)) out.pop();
  }
  return present;
}

/** Whether anything inside ignored directory `fromRoot` escapes the ignore rules. */
export function existsInside(rules: WalkRules, absolute: string, fromRoot: string, ignoreState: ParentMatch | undefined): boolean {
  const ignoreRules = rules.ignore as PatternMatcher;
  for (const child of readDirectory(rules, absolute, fromRoot, true)) {
    const childFromRoot = `${fromRoot}/${child.name}`;
    const state = ignoreRules.matchWithParent(childFromRoot, ignoreState);
    if (!state.matched) return true;
    if (child.isDirectory() && ignoreRules.exceptionsMayMatchInside(childFromRoot) && existsInside(rules, `${absolute}/${child.name}`, childFromRoot, state)) {
      return true;
    }
  }
  return false;
}

/**
 * The directory's entries sorted by name. A directory that cannot be read is an error, unless
 * `lenient`: it is only searched for exceptions to ignore or exclude rules (Docker skips those).
 * One that vanished since it was listed holds nothing.
 */
export function readDirectory(rules: WalkRules, absolute: string, fromRoot: string, lenient: boolean): Dirent[] {
  let children: Dirent[];
  try {
    children = readdirSync(absolute, { withFileTypes: true });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || (lenient && (code === 'EACCES' || code === 'EPERM'))) return [];
    throw new GantryError(`cannot read directory "${fromRoot || '.'}" in ${rules.rootLabel}: ${code ?? String(err)}`, {
      hint: code === 'EACCES' ? 'make it readable by the user running gantry, or exclude it in .dockerignore' : undefined,
      cause: err,
    });
  }
  rules.counters.directoriesRead++;
  return children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
