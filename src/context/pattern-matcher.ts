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
 * '/'. Patterns compile to automata equivalent to the RE2 regular expressions Docker builds; a class
 * range written backwards ("[z-a]") passes validation but cannot compile, so every match against it
 * fails, as in Docker.
 */
import { elide, GantryError, type SourceLocation } from '../util/index.js';
import { cleanPath, dirPath } from './go-path.js';
import { GlobSyntaxError, validateGlob } from './glob.js';

type CompiledPattern =
  | { type: 'exact'; text: string }
  | { type: 'prefix'; prefix: string }
  | { type: 'suffix'; suffix: string }
  | { type: 'regexp'; automaton: PathAutomaton }
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

  /**
   * Whether the pattern matches `path` or one of its parent directories `parents` (parentPrefixes).
   * An automaton reads the path once for all the parents that are prefixes of it, rather than once
   * each (quadratic in the depth of the path).
   */
  matchesOrParent(path: string, parents: () => readonly string[]): boolean {
    if (this.compiled.type === 'regexp') {
      const dirs = parents();
      if (dirs.every((dir) => path.startsWith(dir) && path.charCodeAt(dir.length) === 0x2f)) {
        return this.answer(this.compiled.automaton.matches(path, new Set([...dirs.map((dir) => dir.length), path.length])), path);
      }
    }
    return this.matchesExactly(path) || parents().some((dir) => this.matchesExactly(dir));
  }

  /** An automaton's answer, or the error for a match it gave up on. */
  private answer(match: boolean | undefined, path: string): boolean {
    if (match !== undefined) return match;
    throw new GantryError(`pattern "${elide(this.text, 200)}" in ${this.origin} is too costly to match against ${elide(path, 200)}`, {
      hint: 'a pattern this long with this many wildcards is not a real ignore rule; shorten it',
      location: this.location,
    });
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
        return this.answer(compiled.automaton.matches(path), path);
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
        match = parent === undefined ? pattern.matchesOrParent(path, () => (parentDirs ??= parentPrefixes(path))) : pattern.matchesExactly(path);
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
      if (pattern.matchesOrParent(path, () => (parentDirs ??= parentPrefixes(path)))) {
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
 * follow), anything else the equivalent of Docker's regular expression anchored at both ends.
 */
function compilePattern(pattern: string): CompiledPattern {
  const chars = Array.from(pattern);
  const program = new ProgramBuilder();
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
            program.add(Op.ManyNotNewline);
            type = 'regexp';
          }
        } else {
          // Any number of directories, including none (RE2's '.' does not match a newline): `(?:[^\n]*/)?`.
          program.add(Op.SkipTo, program.length + 3);
          program.add(Op.ManyNotNewline);
          program.add(Op.One, SLASH);
          type = 'regexp';
        }
        if (token === 0) type = 'suffix';
      } else {
        program.add(Op.ManyNotSlash);
        type = 'regexp';
      }
    } else if (ch === '?') {
      program.add(Op.OneNotSlash);
      type = 'regexp';
    } else if (ch === '\\') {
      // Validation rejects a trailing backslash, so an escaped character always follows.
      program.add(Op.One, (chars[i++] as string).codePointAt(0) as number);
      type = 'regexp';
    } else if (ch === '[') {
      const parsed = compileClass(chars, i);
      if (parsed.error !== undefined) return { type: 'invalid', reason: parsed.error };
      program.add(Op.Class, program.addClass(parsed.ranges, parsed.negated));
      i = parsed.end;
      type = 'regexp';
    } else {
      if (ch === ']') type = 'regexp';
      program.add(Op.One, ch.codePointAt(0) as number);
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
      return { type, automaton: program.build() };
  }
}

/** Compiles a character class body starting after '[' (already validated by validateGlob). */
function compileClass(chars: string[], start: number): { ranges: Array<[number, number]>; negated: boolean; end: number; error?: string } {
  let i = start;
  let negated = false;
  if (chars[i] === '^') {
    negated = true;
    i++;
  }
  const classChar = (): number => {
    let ch = chars[i++] as string;
    if (ch === '\\') ch = chars[i++] as string;
    return ch.codePointAt(0) as number;
  };
  const ranges: Array<[number, number]> = [];
  while (!(chars[i] === ']' && ranges.length > 0)) {
    const lo = classChar();
    let hi = lo;
    if (chars[i] === '-') {
      i++;
      hi = classChar();
    }
    if (lo > hi) {
      const show = (cp: number) => String.fromCodePoint(cp);
      return { ranges, negated, end: i, error: `character class range ${show(lo)}-${show(hi)} is out of order` };
    }
    ranges.push([lo, hi]);
  }
  return { ranges, negated, end: i + 1 };
}

const SLASH = 0x2f;
const NEWLINE = 0x0a;

/** The instructions of a path automaton: each state is one of these, with an argument. */
const enum Op {
  /** One character equal to the argument. */
  One,
  /** One character that is not '/'. */
  OneNotSlash,
  /** One character in class number `argument`. */
  Class,
  /** Any run of characters but '/'. */
  ManyNotSlash,
  /** Any run of characters but a newline. */
  ManyNotNewline,
  /** Either the next state or state `argument` (an optional part). */
  SkipTo,
}

class ProgramBuilder {
  private readonly ops: number[] = [];
  private readonly args: number[] = [];
  private readonly classes: Array<{ ranges: Array<[number, number]>; negated: boolean }> = [];

  get length(): number {
    return this.ops.length;
  }

  add(op: Op, argument = 0): void {
    this.ops.push(op);
    this.args.push(argument);
  }

  addClass(ranges: Array<[number, number]>, negated: boolean): number {
    this.classes.push({ ranges, negated });
    return this.classes.length - 1;
  }

  build(): PathAutomaton {
    return new PathAutomaton(Uint8Array.from(this.ops), Int32Array.from(this.args), this.classes);
  }
}

/**
 * The most automaton steps one match may take. Docker matches with RE2, in time linear in the path;
 * a JavaScript RegExp backtracks (`*a*a*a*a*b` against a long name never finishes), so patterns run on a
 * Thompson automaton, and this bounds a hostile pattern that is long as well (a real one with a real
 * path takes a few thousand steps).
 */
export const MAX_MATCH_STEPS = 1_000_000;

/** Scratch space shared by all automata (matching is synchronous), grown as needed: two state lists, a stack, marks. */
let current = new Int32Array(64);
let following = new Int32Array(64);
let stack = new Int32Array(64);
let seenAt = new Int32Array(64);
let generation = 0;

/**
 * A path pattern as a Thompson automaton: all threads advance together over the path, never
 * backtracking. Kept as two typed arrays, so a long ignore file's patterns stay small.
 */
class PathAutomaton {
  constructor(
    private readonly ops: Uint8Array,
    private readonly args: Int32Array,
    private readonly classes: ReadonlyArray<{ ranges: Array<[number, number]>; negated: boolean }>,
  ) {}

  /**
   * Whether the automaton accepts the first `end` characters of `path` for some `end` in `ends` (the
   * whole path when `ends` is not given): one reading of a path answers for all its parent directories.
   * undefined when that would take more than MAX_MATCH_STEPS.
   */
  matches(path: string, ends?: ReadonlySet<number>): boolean | undefined {
    const size = this.ops.length + 1;
    if (current.length < size) {
      current = new Int32Array(size);
      following = new Int32Array(size);
      // Each state, once reached, pushes at most two more; the seeds are at most one a state.
      stack = new Int32Array(size * 3);
      seenAt = new Int32Array(size);
    }
    let states = current;
    let next = following;
    const start = this.closure(next, [0]);
    [states, next] = [next, states];
    let count = start.count;
    let accepting = start.accepting;
    let steps = 0;
    for (let pos = 0; ; ) {
      if (accepting && (ends ? ends.has(pos) : pos === path.length)) return true;
      if (pos >= path.length || count === 0) return false;
      const codePoint = path.codePointAt(pos) as number;
      pos += codePoint > 0xffff ? 2 : 1;
      steps += count;
      if (steps > MAX_MATCH_STEPS) return undefined;
      const successors: number[] = [];
      for (let i = 0; i < count; i++) {
        const state = states[i] as number;
        if (state === this.ops.length) continue;
        const argument = this.args[state] as number;
        switch (this.ops[state] as Op) {
          case Op.One:
            if (codePoint === argument) successors.push(state + 1);
            break;
          case Op.OneNotSlash:
            if (codePoint !== SLASH) successors.push(state + 1);
            break;
          case Op.Class: {
            const { ranges, negated } = this.classes[argument]!;
            if (ranges.some(([lo, hi]) => lo <= codePoint && codePoint <= hi) !== negated) successors.push(state + 1);
            break;
          }
          case Op.ManyNotSlash:
            if (codePoint !== SLASH) successors.push(state);
            break;
          case Op.ManyNotNewline:
            if (codePoint !== NEWLINE) successors.push(state);
            break;
          case Op.SkipTo:
            break;
        }
      }
      const after = this.closure(next, successors);
      [states, next] = [next, states];
      count = after.count;
      accepting = after.accepting;
    }
  }

  /** Writes the states reachable from `seeds` without consuming a character into `out`, each once. */
  private closure(out: Int32Array, seeds: readonly number[]): { count: number; accepting: boolean } {
    if (generation === 0x7fffffff) {
      seenAt.fill(0);
      generation = 0;
    }
    const mark = ++generation;
    let count = 0;
    let accepting = false;
    let top = 0;
    for (let i = seeds.length - 1; i >= 0; i--) stack[top++] = seeds[i] as number;
    while (top > 0) {
      const state = stack[--top] as number;
      if (seenAt[state] === mark) continue;
      seenAt[state] = mark;
      out[count++] = state;
      if (state === this.ops.length) {
        accepting = true;
        continue;
      }
      const op = this.ops[state] as Op;
      if (op === Op.SkipTo) {
        stack[top++] = this.args[state] as number;
        stack[top++] = state + 1;
      } else if (op === Op.ManyNotSlash || op === Op.ManyNotNewline) {
        stack[top++] = state + 1;
      }
    }
    return { count, accepting };
  }
}
