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
  /** The source line, quoted under the message (a window of it when long) with a caret under `column`. */
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

/** How many characters of a source line an error quotes: a window around the column, terminal-friendly. */
export const QUOTED_LINE_WIDTH = 160;

/** Messages and hints longer than this lose their middle (user text such as a huge word can end up in them). */
const MESSAGE_LENGTH = 4000;

/** `file:line:col: message`, the quoted line with a caret, then `hint: ...`. */
export function formatGantryError(err: GantryError): string {
  const lines: string[] = [];
  const loc = err.location;
  const message = printable(elide(err.message, MESSAGE_LENGTH));
  lines.push(loc ? `${loc.file}:${loc.line}:${loc.column}: ${message}` : message);
  if (loc?.lineText !== undefined) {
    const { text, caretAt, caretLength } = lineWindow(loc.lineText, loc.column, loc.length ?? 1);
    lines.push(`  ${loc.line} | ${text}`);
    const gutter = ' '.repeat(String(loc.line).length);
    lines.push(`  ${gutter} | ${' '.repeat(caretAt)}${'^'.repeat(caretLength)}`);
  }
  if (err.hint) lines.push(`hint: ${printable(elide(err.hint, MESSAGE_LENGTH))}`);
  return lines.join('\n');
}

/**
 * The part of a source line to quote: all of it when it fits QUOTED_LINE_WIDTH, else a window around
 * the 1-based `column` with `…` where text was cut. Tabs and control characters become one printable
 * character each, so the caret stays under the text and the line cannot drive the terminal.
 */
function lineWindow(lineText: string, column: number, length: number): { text: string; caretAt: number; caretLength: number } {
  const line = lineText.replace(/\t/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd');
  const at = Math.min(Math.max(0, column - 1), line.length);
  if (line.length <= QUOTED_LINE_WIDTH) return { text: line, caretAt: at, caretLength: Math.max(1, length) };
  // Keep some context before the column; the rest of the window shows the offending text.
  let start = Math.max(0, Math.min(at - Math.floor(QUOTED_LINE_WIDTH / 4), line.length - QUOTED_LINE_WIDTH));
  let end = Math.min(line.length, start + QUOTED_LINE_WIDTH);
  // Never split a surrogate pair.
  if (start > 0 && isLowSurrogate(line.charCodeAt(start))) start++;
  if (end < line.length && isLowSurrogate(line.charCodeAt(end))) end--;
  const before = start > 0 ? '…' : '';
  const after = end < line.length ? '…' : '';
  const caretAt = before.length + at - start;
  const caretLength = Math.max(1, Math.min(length, end - at));
  return { text: `${before}${line.slice(start, end)}${after}`, caretAt, caretLength };
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** C0 controls but tab and newline, DEL, and C1 controls. */
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Text with control characters (an escape sequence in a Dockerfile, say) made visible. */
function printable(text: string): string {
  return text.replace(CONTROL_CHARS, '\ufffd');
}

/** `text` cut to about `max` characters by replacing its middle with `…`. */
export function elide(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.ceil((max - 1) / 2);
  const tail = max - 1 - head;
  return `${text.slice(0, head)}…${tail > 0 ? text.slice(text.length - tail) : ''}`;
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
