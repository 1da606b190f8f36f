/**
 * The Dockerfile text as lines, so that every error can point at the file, line and column it is
 * about and quote the line, and the limits on its size.
 */
import { GantryError, type SourceLocation } from '../util/index.js';
import { WordTooLongError, type ShellSyntaxError } from './shell-lexer.js';

/**
 * The largest Dockerfile gantry plans, in bytes. Real Dockerfiles are under 100 KB and heredocs may embed
 * a few MB. Checking one just under this limit peaks below 250 MB of memory in the costliest shapes
 * measured (one LABEL of 240,000 pairs, 500,000 levels of nesting), most under 150 MB; at 8 MiB some
 * shapes passed 500 MB. Callers that read a Dockerfile refuse a larger one before reading it.
 */
export const MAX_DOCKERFILE_BYTES = 3 * 1024 * 1024;

/** The refusal of a Dockerfile over MAX_DOCKERFILE_BYTES; `file` names it, `size` in bytes when known. */
export function dockerfileTooLarge(file: string, size?: number): GantryError {
  const what = size === undefined ? 'is larger than' : `is ${size} bytes, more than`;
  return new GantryError(`the Dockerfile ${what} the limit of ${MAX_DOCKERFILE_BYTES} bytes (3 MiB)`, {
    location: { file, line: 1, column: 1 },
    hint: 'real Dockerfiles are kilobytes: put large content in the build context and COPY it instead of embedding it',
  });
}

export class DockerfileSource {
  /** The text without a leading byte order mark. */
  private readonly text: string;
  /** Where each line starts in `text`; lines are kept as offsets, not strings, so a file of millions of short lines stays small. */
  private readonly starts: Uint32Array;

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.text = text.replace(/^\ufeff/, '');
    let count = 1;
    for (let at = this.text.indexOf('\n'); at >= 0; at = this.text.indexOf('\n', at + 1)) count++;
    this.starts = new Uint32Array(count);
    let line = 1;
    for (let at = this.text.indexOf('\n'); at >= 0; at = this.text.indexOf('\n', at + 1)) this.starts[line++] = at + 1;
  }

  /** The number of lines the parser reads: a final newline ends the last line rather than starting one. */
  get rawLineCount(): number {
    const last = this.starts[this.starts.length - 1]!;
    return last === this.text.length ? this.starts.length - 1 : this.starts.length;
  }

  /** Line `line` (1-based) with its line ending, as the parser reads it. */
  rawLine(line: number): string {
    const end = line < this.starts.length ? this.starts[line]! : this.text.length;
    return this.text.slice(this.starts[line - 1], end);
  }

  /** Line `line` (1-based) without its line ending, or undefined past the end. */
  lineText(line: number): string | undefined {
    if (line < 1 || line > this.starts.length) return undefined;
    const end = line < this.starts.length ? this.starts[line]! - 1 : this.text.length;
    const text = this.text.slice(this.starts[line - 1], end);
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }

  /**
   * A location on `line`. The column is where `needle` first appears on that line when given and
   * found, else the first non-blank character.
   */
  location(line: number, needle?: string): SourceLocation {
    const text = this.lineText(line);
    if (text === undefined) return { file: this.file, line: Math.max(1, line), column: 1 };
    let column = text.search(/\S/) + 1;
    let length = 1;
    if (needle) {
      const at = text.indexOf(needle);
      if (at >= 0) {
        column = at + 1;
        length = needle.length;
      }
    }
    return { file: this.file, line, column: Math.max(1, column), lineText: text, length };
  }

  /** A user-facing error at `line` (see `location` for `needle`). */
  error(message: string, line: number, options: { needle?: string; hint?: string; cause?: unknown } = {}): GantryError {
    return new GantryError(message, { location: this.location(line, options.needle), hint: options.hint, cause: options.cause });
  }
}

/** Adds a location (and a hint, when it has none) to an error raised without one. */
export function withLocation(err: unknown, source: DockerfileSource, line: number, needle?: string, hint?: string): unknown {
  if (!(err instanceof GantryError) || err.location) return err;
  const located = new GantryError(err.message, { location: source.location(line, needle), hint: err.hint ?? hint, cause: err.cause });
  located.name = err.name;
  return located;
}

/**
 * A word-expansion error located at the instruction `keyword` on `line`. A word over the size limit
 * names the instruction and keeps its own hint; syntax errors read as BuildKit's, with `hint` if given.
 */
export function expansionError(err: ShellSyntaxError, source: DockerfileSource, line: number, keyword: string, hint?: string): GantryError {
  if (err instanceof WordTooLongError) {
    return source.error(`${keyword.toUpperCase()}: ${err.message}`, line, { needle: keyword, hint: err.hint });
  }
  return source.error(err.message, line, { hint });
}
