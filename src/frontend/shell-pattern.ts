/**
 * The shell patterns of `${V#p}`, `${V%p}` and `${V/p/r}`: `*` any run of characters, `?` one character
 * (neither crosses a newline, as Go's `.` does not), the rest literal; bracket expressions are not
 * supported, as in BuildKit.
 *
 * BuildKit compiles these to Go regular expressions, which match in linear time. A backtracking
 * JavaScript RegExp does not (`*a*a*a*b` against a run of `a`s never finishes), so patterns run here on a
 * Thompson automaton instead: every thread advances in step over the text, and a step budget turns a
 * pathological pattern-times-text size into an error instead of a hang.
 */

/** A malformed pattern, or one too costly to match; the lexer reports it with the whole word. */
export class ShellPatternError extends Error {}

/** `*` (any run), `?` (one character), or one literal character. */
type Item = '*' | '?' | { literal: string };

/**
 * State steps one pattern may take over all its matching (≈ 0.3 s). Real patterns and values are far
 * below it (a 100-character pattern over a 10 kB value takes at most 1e6).
 */
export const MAX_PATTERN_STEPS = 50_000_000;

export class ShellPattern {
  private readonly items: Item[];
  private steps = 0;
  // Per-state bookkeeping, reused across positions: the earliest start of the thread in each state.
  private readonly startAt: Int32Array;
  private readonly seenAt: Int32Array;
  private generation = 0;

  /** Throws ShellPatternError for an invalid escape. */
  constructor(readonly text: string) {
    this.items = compile(text);
    this.startAt = new Int32Array(this.items.length + 1);
    this.seenAt = new Int32Array(this.items.length + 1);
  }

  /** The text the pattern matches when it has no wildcards, else undefined. */
  literal(): string | undefined {
    let text = '';
    for (const item of this.items) {
      if (typeof item !== 'object') return undefined;
      text += item.literal;
    }
    return text;
  }

  /**
   * The length (in characters of `chars`) of the shortest or longest prefix of `chars` the pattern
   * matches, or -1. With only lazy or only greedy stars this is the match Go's leftmost-first regexp
   * anchored at the start finds.
   */
  prefixLength(chars: readonly string[], longest: boolean): number {
    let found = -1;
    let threads = this.advance([], chars, -1, 0);
    for (let pos = 0; ; pos++) {
      if (threads.accepted >= 0) {
        found = pos;
        if (!longest) return found;
      }
      if (pos === chars.length || threads.states.length === 0) return found;
      threads = this.advance(threads.states, chars, pos, -1);
    }
  }

  /**
   * The leftmost match at or after `from`, longest among those starting there (what a greedy
   * leftmost-first regexp finds), as [start, end) in characters, or undefined.
   */
  search(chars: readonly string[], from: number): [number, number] | undefined {
    let best: [number, number] | undefined;
    let threads = this.advance([], chars, -1, from);
    for (let pos = from; ; pos++) {
      if (threads.accepted >= 0 && (!best || threads.accepted < best[0] || (threads.accepted === best[0] && pos > best[1]))) {
        best = [threads.accepted, pos];
      }
      // Once a match is found, only threads that started no later can still give a better one.
      const live = best ? threads.states.filter((state) => this.startAt[state]! <= best![0]) : threads.states;
      if (pos === chars.length || (best && live.length === 0)) return best;
      threads = this.advance(live, chars, pos, best ? -1 : pos + 1);
    }
  }

  /**
   * The threads after consuming `chars[at]` from `states` (none when `at` is -1), plus a new thread
   * starting at `newStart` (-1 for none), with their star and accept closures. `accepted` is the start
   * of the earliest-starting thread that accepts, or -1.
   */
  private advance(states: readonly number[], chars: readonly string[], at: number, newStart: number): { states: number[]; accepted: number } {
    const generation = ++this.generation;
    const next: number[] = [];
    let accepted = -1;
    const add = (state: number, start: number) => {
      // Follow zero-width star skips; the earliest start wins a state.
      for (let s = state; ; s++) {
        if (this.seenAt[s] === generation) {
          if (this.startAt[s]! <= start) return;
          this.startAt[s] = start;
        } else {
          this.seenAt[s] = generation;
          this.startAt[s] = start;
          next.push(s);
        }
        if (s === this.items.length) {
          if (accepted < 0 || start < accepted) accepted = start;
          return;
        }
        if (this.items[s] !== '*') return;
      }
    };
    if (at >= 0) {
      const ch = chars[at]!;
      const starts = states.map((state) => this.startAt[state]!);
      this.steps += states.length;
      if (this.steps > MAX_PATTERN_STEPS) {
        throw new ShellPatternError(`pattern (${this.text}) is too costly to match against a value of ${chars.length} characters`);
      }
      states.forEach((state, i) => {
        if (state === this.items.length) return;
        const item = this.items[state]!;
        if (item === '*') {
          if (ch !== '\n') add(state, starts[i]!);
        } else if (item === '?' ? ch !== '\n' : ch === item.literal) {
          add(state + 1, starts[i]!);
        }
      });
    }
    if (newStart >= 0) add(0, newStart);
    return { states: next, accepted };
  }
}

/**
 * Reads a pattern as BuildKit's convertShellPatternToRegex does: `\*`, `\?` and `\\` are literal, and a
 * backslash before `}` or `/` only survived the `${...}` syntax and is dropped.
 */
function compile(pattern: string): Item[] {
  const chars = Array.from(pattern);
  const items: Item[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*' || ch === '?') {
      items.push(ch);
    } else if (ch === '\\') {
      const following = chars[i + 1];
      if (following === '}' || following === '/') continue;
      i++;
      if (following !== '*' && following !== '?' && following !== '\\') {
        throw new ShellPatternError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${following ?? '\ufffd'}'`);
      }
      items.push({ literal: following });
    } else {
      items.push({ literal: ch });
    }
  }
  return items;
}
