/**
 * Where each selected source entry lands, with Docker's COPY/ADD rules (pure; no I/O):
 * a directory source copies its contents into the destination; a file goes to dest/<name> when the
 * destination is a directory (trailing slash, several sources, or an existing directory) and to dest
 * itself otherwise. (--parents is resolved by the selection: its matches are directories holding the kept parents.)
 */
import { posix } from 'node:path';
import { GantryError } from '../../util/errors.js';

export type CopyEntryType = 'file' | 'dir' | 'symlink';

export interface SourceEntry {
  /** Path relative to the matched source: '' is the source itself. */
  rel: string;
  /** Where to read it on the host. */
  hostPath: string;
  type: CopyEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkTarget?: string;
}

export interface SelectedSource {
  /** The source as matched, relative to its root (context or stage filesystem), e.g. "src/app" or "a.txt". */
  path: string;
  /** The name a file source takes inside a destination directory. */
  name: string;
  /** A directory's contents are copied into the destination (with --parents, matches are the pivot directories). */
  isDir: boolean;
  /** Keep the entries' owners when no --chown is given (stage sources, extracted archives); context files become root's. */
  preserveOwner: boolean;
  /** Entries of the source, parents before children; a file source has one entry with rel ''. */
  entries: SourceEntry[];
}

export interface PlacedEntry {
  /** Absolute path inside the target filesystem. */
  target: string;
  entry: SourceEntry;
  preserveOwner: boolean;
}

export interface CopyPlanInput {
  sources: SelectedSource[];
  /** The destination as written (absolute; may end with '/'). */
  dest: string;
  /** Whether the destination exists as a directory in the target filesystem. */
  destIsExistingDir: boolean;
  /** Number of source arguments in the instruction (before wildcard expansion). */
  sourceArgCount: number;
  instruction: 'COPY' | 'ADD';
}

export function destinationIsDirectory(input: Pick<CopyPlanInput, 'dest' | 'destIsExistingDir' | 'sources' | 'sourceArgCount'>): boolean {
  return input.dest.endsWith('/') || input.dest.endsWith('/.') || input.destIsExistingDir || input.sources.length > 1 || input.sourceArgCount > 1;
}

export function planCopy(input: CopyPlanInput): PlacedEntry[] {
  const dest = posix.normalize(input.dest);
  const destDir = destinationIsDirectory(input);
  if (input.sourceArgCount > 1 && !(input.dest.endsWith('/') || input.destIsExistingDir)) {
    throw new GantryError(`When using ${input.instruction} with more than one source file, the destination must be a directory and end with a /`, {
      hint: `write the destination as ${dest.replace(/\/?$/, '/')}`,
    });
  }
  const placed: PlacedEntry[] = [];
  for (const source of input.sources) {
    const base = source.isDir ? dest : destDir ? posix.join(dest, source.name) : dest;
    for (const entry of source.entries) {
      placed.push({ target: entry.rel === '' ? base : posix.join(base, entry.rel), entry, preserveOwner: source.preserveOwner });
    }
  }
  return placed;
}

/** Parses --chmod: octal ("755", "0644"). */
export function parseChmod(text: string): number {
  if (!/^[0-7]{3,4}$/.test(text)) {
    throw new GantryError(`invalid --chmod value "${text}"`, { hint: 'use an octal mode such as 755 or 0644' });
  }
  return parseInt(text, 8);
}
