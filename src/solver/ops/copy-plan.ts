/**
 * Where each selected source entry lands, with Docker's COPY/ADD rules (pure; no I/O):
 * a directory source copies its contents into the destination; a file goes to dest/<name> when the
 * destination is a directory (trailing slash, several sources, or an existing directory) and to dest
 * itself otherwise. (--parents is resolved by the selection: its matches are directories holding the kept parents.)
 */
import { posix } from 'node:path';
import { GantryError } from '../../util/index.js';

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
  /** Same value for the names of one hardlinked file ("<dev>:<ino>"), absent for files with one name. */
  linkKey?: string;
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
  /** Index of the source it came from: hardlinks are kept between entries of one source, as BuildKit copies each source on its own. */
  source: number;
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
  for (const [index, source] of input.sources.entries()) {
    const base = source.isDir ? dest : destDir ? posix.join(dest, source.name) : dest;
    for (const entry of source.entries) {
      placed.push({ target: entry.rel === '' ? base : posix.join(base, entry.rel), entry, preserveOwner: source.preserveOwner, source: index });
    }
  }
  return placed;
}

/**
 * A --chmod value. An octal mode replaces each entry's mode and is also the mode of the directories
 * the copy creates; a symbolic one (chmod(1) clauses such as "go-w,u+x" or "a+X") changes each
 * entry's own mode and leaves created directories at 0755, as in BuildKit.
 */
export interface ModeChange {
  readonly octal?: number;
  apply(mode: number, isDir: boolean): number;
}

export function parseChmod(text: string): ModeChange {
  if (/^[0-7]+$/.test(text) && parseInt(text, 8) <= 0o7777) {
    const octal = parseInt(text, 8);
    return { octal, apply: () => octal };
  }
  const clauses = text.split(',').map((clause) => parseModeClause(clause, text));
  return { apply: (mode, isDir) => clauses.reduce((current, clause) => clause(current, mode, isDir), mode) };
}

type ModeClause = (current: number, original: number, isDir: boolean) => number;

const SET_ID = 0o6000;
const STICKY = 0o1000;
const WHO_BITS: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o0007, a: 0o6777 };
const CLASS_SHIFT: Record<string, number> = { u: 6, g: 3, o: 0 };

/** One chmod(1) clause: who letters, then operations (+, -, =) each with permission letters or a class to copy. */
function parseModeClause(clause: string, whole: string): ModeClause {
  const match = /^([ugoa]*)((?:[-+=](?:[rwxXst]*|[ugo]))+)$/.exec(clause);
  if (!match) {
    throw new GantryError(`invalid --chmod value "${whole}"`, { hint: 'use an octal mode such as 755, or symbolic clauses such as u+x,go-w' });
  }
  const whoLetters = match[1] ?? '';
  // Without who letters a clause applies to everyone (BuildKit applies symbolic modes with umask 0).
  const who = whoLetters === '' ? 0o6777 : [...whoLetters].reduce((bits, letter) => bits | (WHO_BITS[letter] ?? 0), 0);
  const onlyOthers = whoLetters !== '' && (who & ~0o0007) === 0;
  const operations = [...(match[2] ?? '').matchAll(/([-+=])([rwxXst]*|[ugo])/g)].map((m) => ({ op: m[1] as '+' | '-' | '=', perms: m[2] ?? '' }));
  return (current, original, isDir) => {
    let mode = current;
    for (const { op, perms } of operations) {
      let bits: number;
      let scope = who;
      if (perms.length === 1 && perms in CLASS_SHIFT) {
        const value = (mode >> (CLASS_SHIFT[perms] as number)) & 0o7;
        bits = (value << 6) | (value << 3) | value;
      } else {
        bits = 0;
        for (const letter of perms) {
          if (letter === 'r') bits |= 0o444;
          else if (letter === 'w') bits |= 0o222;
          else if (letter === 'x') bits |= 0o111;
          else if (letter === 'X' && op === '+' && (isDir || (original & 0o111) !== 0)) bits |= 0o111;
          else if (letter === 's' && !onlyOthers) bits |= SET_ID;
          else if (letter === 't' && !onlyOthers) {
            bits |= STICKY;
            scope |= STICKY;
          }
        }
      }
      bits &= scope;
      if (op === '+') mode |= bits;
      else if (op === '-') mode &= ~bits;
      else mode = (mode & ~(who & ~STICKY)) | bits;
    }
    return mode & 0o7777;
  };
}
