/**
 * Errors a user can act on. The CLI prints a GantryError as text (no stack trace) and exits
 * with its exitCode; any other error is a bug in gantry and is printed with its stack.
 */

export interface SourceLocation {
  /** Path as the user named it (e.g. "Dockerfile" or "ci/Dockerfile.prod"). */
  file: string;
  /** 1-based line number. */
  line: number;
  /** 1-based column of the offending text. */
  column: number;
  /** The full source line, quoted under the message with a caret under `column`. */
  lineText?: string;
  /** Length of the offending text, for a caret run (default 1). */
  length?: number;
}

export interface GantryErrorOptions {
  hint?: string;
  location?: SourceLocation;
  cause?: unknown;
  exitCode?: number;
}

export class GantryError extends Error {
  readonly hint?: string;
  readonly location?: SourceLocation;
  readonly exitCode: number;

  constructor(message: string, options: GantryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GantryError';
    this.hint = options.hint;
    this.location = options.location;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** `file:line:col: message`, the quoted line with a caret, then `hint: ...`. */
export function formatGantryError(err: GantryError): string {
  const lines: string[] = [];
  const loc = err.location;
  lines.push(loc ? `${loc.file}:${loc.line}:${loc.column}: ${err.message}` : err.message);
  if (loc?.lineText !== undefined) {
    const text = loc.lineText.replace(/\t/g, ' ');
    lines.push(`  ${loc.line} | ${text}`);
    const gutter = ' '.repeat(String(loc.line).length);
    const caret = '^'.repeat(Math.max(1, loc.length ?? 1));
    lines.push(`  ${gutter} | ${' '.repeat(Math.max(0, loc.column - 1))}${caret}`);
  }
  if (err.hint) lines.push(`hint: ${err.hint}`);
  return lines.join('\n');
}

export function isGantryError(err: unknown): err is GantryError {
  return err instanceof GantryError;
}

/** Node system errors carry a string `code` such as ENOENT. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** A value from outside for a message: short, JSON-quoted (control characters escaped). */
export function quoteForMessage(value: unknown, limit = 80): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > limit ? `${text.slice(0, limit)}…` : text);
}

/**
 * Failures of the machine rather than of gantry — a full disk, a quota, a read-only file system, too
 * many open files — as user errors with what to do about them. Every writer in gantry writes to a temp
 * file and renames, so such a failure loses nothing and the message can say so. Looks through `cause`.
 */
export function machineError(err: unknown): GantryError | undefined {
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const code = errnoCode(current);
    const explained = code === undefined ? undefined : MACHINE_ERRORS[code];
    if (explained) {
      const path = (current as { path?: unknown }).path;
      return new GantryError(`${explained.message}${typeof path === 'string' ? ` (${path})` : ''}`, { hint: explained.hint, cause: current });
    }
    current = typeof current === 'object' && 'cause' in current ? (current as { cause: unknown }).cause : undefined;
  }
  return undefined;
}

const NOTHING_LOST = 'what was being written was discarded; the store is as it was before the command';

const MACHINE_ERRORS: Record<string, { message: string; hint: string }> = {
  ENOSPC: { message: 'no space left on the device', hint: `free space where the store or the output is (gantry prune removes unused images and build cache); ${NOTHING_LOST}` },
  EDQUOT: { message: 'disk quota exceeded', hint: `free space within your quota (gantry prune removes unused images and build cache); ${NOTHING_LOST}` },
  EROFS: { message: 'the file system is read-only', hint: 'choose a writable store (--root, GANTRY_ROOT) or output location' },
  EMFILE: { message: 'too many open files', hint: 'raise the open-file limit (ulimit -n) and run the command again' },
  ENFILE: { message: 'the system ran out of open files', hint: 'close other programs or raise fs.file-max, then run the command again' },
};
