/**
 * The Dockerfile text as lines, so that every error can point at the file, line and column it is
 * about and quote the line.
 */
import { GantryError, type SourceLocation } from '../util/errors.js';
import { WordTooLongError, type ShellSyntaxError } from './shell-lexer.js';

export class DockerfileSource {
  /** Lines without their line endings; lines[0] is line 1. */
  readonly lines: string[];

  constructor(
    readonly file: string,
    text: string,
  ) {
    this.lines = text.replace(/^\ufeff/, '').split('\n').map((line) => line.replace(/\r$/, ''));
  }

  lineText(line: number): string | undefined {
    return this.lines[line - 1];
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
