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
