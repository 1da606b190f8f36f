/**
 * Docker's path pattern matching (.dockerignore, COPY --exclude, COPY --parents includes), with the
 * semantics of moby/patternmatcher:
 *
 * - patterns are trimmed, empty ones skipped, then cleaned like Go's path.Clean;
 * - a leading '!' makes an exception; a bare '!' is an error;
 * - a pattern is validated with filepath.Match's syntax rules;
 * - a path matches a pattern when the path itself or any of its parent directories does;
 * - patterns apply in order: an inclusion marks the path, a later exception clears the mark, a
 *   later inclusion can set it again;
 * - '**' matches any number of directories (including none); a leading '**' pattern is a suffix
 *   match ("**file" matches "dir/myfile"), a trailing one a prefix match.
 *
 * Character classes follow filepath.Match inside the brackets and, as in Docker, a class may match
 * '/'. Patterns are compiled to JavaScript regular expressions equivalent to the RE2 ones Docker
 * builds; a class range written backwards ("[z-a]") passes validation but cannot compile, so every
 * match against it fails, as in Docker.
 */
import { GantryError, type SourceLocation } from '../util/errors.js';
import { cleanPath, dirPath } from './go-path.js';
import { GlobSyntaxError, validateGlob } from './glob.js';

type CompiledPattern =
  | { type: 'exact'; text: string }
  | { type: 'prefix'; prefix: string }
  | { type: 'suffix'; suffix: string }
  | { type: 'regexp'; regexp: RegExp }
  | { type: 'invalid'; reason: string };

export interface PatternMatcherOptions {
  /** Names the pattern list in messages, e.g. ".dockerignore" or "--exclude". */
  origin?: string;
  /** Where the pattern at `index` (of the list given to the constructor) was written. */
  locate?: (index: number) => SourceLocation | undefined;
}

/** One pattern of a matcher, as Docker reports it: cleaned, with the '!' removed. */
export class Pattern {
  private readonly compiled: CompiledPattern;

  constructor(
    /** The cleaned pattern, without its '!' prefix. */
    readonly text: string,
    /** True for an exception ('!pattern'). */
    readonly exception: boolean,
    /** Index of the pattern in the list the matcher was built from. */
    readonly sourceIndex: number,
    /** Names the pattern list in messages. */
    private readonly origin: string,
    /** Where the pattern was written, for messages. */
    private readonly location: SourceLocation | undefined,
  ) {
    this.compiled = compilePattern(text);
  }

  /** The compiled form's kind, as Docker classifies it (exact, prefix, suffix or regexp). */
  get matchType(): CompiledPattern['type'] {
    return this.compiled.type;
  }

  /** The pattern without a trailing "/**" or "/*", which is what a walk may prune on. */
  get literalPrefix(): string {
    if (this.text.endsWith('/**')) return this.text.slice(0, -3);
    if (this.text.endsWith('/*')) return this.text.slice(0, -2);
    return this.text;
  }

  /** Whether the pattern matches `path` itself (not its parents). Throws for an uncompilable pattern. */
  matchesExactly(path: string): boolean {
    const compiled = this.compiled;
    switch (compiled.type) {
      case 'exact':
        return path === compiled.text;
      case 'prefix':
        return path.startsWith(compiled.prefix);
      case 'suffix':
        // "**/foo" also matches "foo" itself.
        return path.endsWith(compiled.suffix) || (compiled.suffix.startsWith('/') && path === compiled.suffix.slice(1));
      case 'regexp':
        return compiled.regexp.test(path);
      case 'invalid':
        throw new GantryError(`invalid pattern "${this.text}" in ${this.origin}: ${compiled.reason}`, {
          hint: 'write character class ranges low to high, e.g. [a-z]',
          location: this.location,
        });
    }
  }
}

/** Per-pattern results for a directory, handed to its children during a walk. */
export interface ParentMatch {
  readonly matched: boolean;
  /** For each pattern, whether the directory (or one of its parents) matched it. */
  readonly patternMatched: Uint8Array;
}

const PATTERN_CHARS = /[*[\]?^\\]/;

export class PatternMatcher {
  readonly patterns: readonly Pattern[];
  /** True when some pattern is an exception ('!pattern'). */
  readonly hasExceptions: boolean;
  private readonly origin: string;
  private readonly locate: ((index: number) => SourceLocation | undefined) | undefined;
  // Whether every exception (inclusion) is a literal path, optionally ending in "/*" or "/**", so
  // a walk can tell which directories might hold a match by prefix alone.
  private readonly literalExceptions: boolean;
  private readonly literalInclusions: boolean;

  constructor(patterns: readonly string[], options: PatternMatcherOptions = {}) {
    this.origin = options.origin ?? 'patterns';
    this.locate = options.locate;
    const parsed: Pattern[] = [];
    patterns.forEach((raw, index) => {
      let text = goTrimSpace(raw);
      if (text === '') return;
      text = cleanPath(text);
      let exception = false;
      if (text.startsWith('!')) {
        if (text.length === 1) {
          throw this.patternError(index, 'illegal exclusion pattern: "!"', 'an exception needs a path after "!", e.g. "!keep.txt"');
        }
        exception = true;
        text = text.slice(1);
      }
      try {
        validateGlob(text);
      } catch (err) {
        if (err instanceof GlobSyntaxError) {
          throw this.patternError(index, `invalid pattern "${raw.trim()}": ${err.reason}`, 'escape a literal "[", "*", "?" or "\\" with a backslash');
        }
        throw err;
      }
      parsed.push(new Pattern(text, exception, index, this.origin, this.locate?.(index)));
    });
    this.patterns = parsed;
    this.hasExceptions = parsed.some((p) => p.exception);
    this.literalExceptions = parsed.every((p) => !p.exception || !PATTERN_CHARS.test(p.literalPrefix));
    this.literalInclusions = parsed.every((p) => p.exception || !PATTERN_CHARS.test(p.literalPrefix));
  }

  /**
   * Docker's MatchesOrParentMatches: whether `path` (slash-separated, relative, used as given) is
   * matched by the patterns, counting a match on any parent directory.
   */
  matches(path: string): boolean {
    return this.decide(path).matched;
  }

  /**
   * Whether a context path is excluded, as Docker's package-level MatchesOrParentMatches decides:
   * the path is cleaned first, and the context root itself is never excluded. A bound function, so
   * it can be handed on as a predicate. Throws a GantryError for a pattern that cannot compile.
   */
  readonly isIgnored = (path: string): boolean => {
    const cleaned = cleanPath(path);
    if (cleaned === '.') return false;
    return this.matches(cleaned);
  };

  /**
   * The pattern that decided `path`'s status (the last one that changed it), or undefined when no
   * pattern applies. For messages that explain why a path is excluded.
   */
  decidingPattern(path: string): Pattern | undefined {
    const cleaned = cleanPath(path);
    if (cleaned === '.') return undefined;
    return this.decide(cleaned).decidedBy;
  }

  /**
   * Docker's MatchesUsingParentResults, for walks: `parent` is the result for the directory that
   * holds `path`, or undefined when walking starts at `path` (its parents are then checked by name).
   */
  matchWithParent(path: string, parent: ParentMatch | undefined): ParentMatch {
    const patternMatched = new Uint8Array(this.patterns.length);
    let matched = false;
    let parentDirs: string[] | undefined;
    for (let i = 0; i < this.patterns.length; i++) {
      const pattern = this.patterns[i] as Pattern;
      let match = parent !== undefined && parent.patternMatched[i] === 1;
      if (!match) {
        if (pattern.exception !== matched) continue;
        match = pattern.matchesExactly(path);
        if (!match && parent === undefined) {
          parentDirs ??= parentPrefixes(path);
          match = parentDirs.some((dir) => pattern.matchesExactly(dir));
        }
      }
      if (match) {
        patternMatched[i] = 1;
        matched = !pattern.exception;
      }
    }
    return { matched, patternMatched };
  }

  /**
   * Whether an exception could re-include something strictly inside directory `dir` (relative).
   * Conservative: true whenever some exception is not a literal path.
   */
  exceptionsMayMatchInside(dir: string): boolean {
    if (!this.hasExceptions) return false;
    if (!this.literalExceptions) return true;
    const dirSlash = `${dir}/`;
    return this.patterns.some((p) => p.exception && `${p.literalPrefix}/`.startsWith(dirSlash));
  }

  /**
   * Whether an inclusion could match something strictly inside directory `dir` (relative).
   * Conservative: true whenever some inclusion is not a literal path.
   */
  inclusionsMayMatchInside(dir: string): boolean {
    if (!this.literalInclusions) return true;
    const dirSlash = `${dir}/`;
    return this.patterns.some((p) => !p.exception && `${p.literalPrefix}/`.startsWith(dirSlash));
  }

  private decide(path: string): { matched: boolean; decidedBy: Pattern | undefined } {
    let matched = false;
    let decidedBy: Pattern | undefined;
    let parentDirs: string[] | undefined;
    for (const pattern of this.patterns) {
      if (pattern.exception !== matched) continue;
      let match = pattern.matchesExactly(path);
      if (!match) {
        parentDirs ??= parentPrefixes(path);
        match = parentDirs.some((dir) => pattern.matchesExactly(dir));
      }
      if (match) {
        matched = !pattern.exception;
        decidedBy = pattern;
      }
    }
    return { matched, decidedBy };
  }

  private patternError(index: number, message: string, hint: string): GantryError {
    return new GantryError(`${this.origin}: ${message}`, { hint, location: this.locate?.(index) });
  }
}

/** "a/b/c" → ["a", "a/b"]: the parent directory prefixes Docker checks, none for a top-level path. */
function parentPrefixes(path: string): string[] {
  const parent = dirPath(path);
  if (parent === '.') return [];
  const parts = parent.split('/');
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

/** Go's strings.TrimSpace: trims Unicode white space (which differs slightly from String.trim). */
export function goTrimSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isGoSpace(text.charCodeAt(start))) start++;
  while (end > start && isGoSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isGoSpace(code: number): boolean {
  return (
    (code >= 0x09 && code <= 0x0d) ||
    code === 0x20 ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/**
 * Classifies and compiles a cleaned pattern the way Docker does: literal text is an exact match, a
 * trailing "**" after literal text a prefix match, a leading "**" a suffix match (unless wildcards
 * follow), anything else a regular expression anchored at both ends.
 */
function compilePattern(pattern: string): CompiledPattern {
  const chars = Array.from(pattern);
  let source = '';
  let type: 'exact' | 'prefix' | 'suffix' | 'regexp' = 'exact';
  for (let i = 0, token = 0; i < chars.length; token++) {
    const ch = chars[i++] as string;
    if (ch === '*') {
      if (chars[i] === '*') {
        i++;
        if (chars[i] === '/') i++;
        if (i >= chars.length) {
          // A trailing "**" accepts everything below, like .gitignore.
          if (type === 'exact') type = 'prefix';
          else {
            source += '[^\\n]*';
            type = 'regexp';
          }
        } else {
          // Any number of directories, including none (RE2's '.' does not match a newline).
          source += '(?:[^\\n]*/)?';
          type = 'regexp';
        }
        if (token === 0) type = 'suffix';
      } else {
        source += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      source += '[^/]';
      type = 'regexp';
    } else if (ch === '\\') {
      // Validation rejects a trailing backslash, so an escaped character always follows.
      source += escapeRegExpChar(chars[i++] as string);
      type = 'regexp';
    } else if (ch === '[') {
      const parsed = compileClass(chars, i);
      if (parsed.error !== undefined) return { type: 'invalid', reason: parsed.error };
      source += parsed.source;
      i = parsed.end;
      type = 'regexp';
    } else if (ch === ']') {
      source += '\\]';
      type = 'regexp';
    } else {
      source += escapeRegExpChar(ch);
    }
  }
  switch (type) {
    case 'exact':
      return { type, text: pattern };
    case 'prefix':
      return { type, prefix: pattern.slice(0, -2) };
    case 'suffix':
      return { type, suffix: pattern.slice(2) };
    case 'regexp':
      return { type, regexp: new RegExp(`^${source}$`, 'u') };
  }
}

/** Compiles a character class body starting after '[' (already validated by validateGlob). */
function compileClass(chars: string[], start: number): { source: string; end: number; error?: string } {
  let i = start;
  let source = '[';
  if (chars[i] === '^') {
    source += '^';
    i++;
  }
  const classChar = (): number => {
    let ch = chars[i++] as string;
    if (ch === '\\') ch = chars[i++] as string;
    return ch.codePointAt(0) as number;
  };
  let ranges = 0;
  while (!(chars[i] === ']' && ranges > 0)) {
    const lo = classChar();
    let hi = lo;
    if (chars[i] === '-') {
      i++;
      hi = classChar();
    }
    if (lo > hi) {
      const show = (cp: number) => String.fromCodePoint(cp);
      return { source: '', end: i, error: `character class range ${show(lo)}-${show(hi)} is out of order` };
    }
    source += lo === hi ? classEscape(lo) : `${classEscape(lo)}-${classEscape(hi)}`;
    ranges++;
  }
  return { source: `${source}]`, end: i + 1 };
}

function classEscape(codePoint: number): string {
  return `\\u{${codePoint.toString(16)}}`;
}

function escapeRegExpChar(ch: string): string {
  return /[\^$\\.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}
