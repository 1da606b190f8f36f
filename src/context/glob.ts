/**
 * Go's filepath.Match on Unix, which BuildKit uses for COPY/ADD source wildcards and which
 * Docker's pattern matcher uses to validate patterns:
 *
 *   '*'          any run of characters except '/'
 *   '?'          one character except '/'
 *   '[' [ '^' ] { c | c-c } ']'   a character class; it may match '/' (Go does not exclude it)
 *   '\c'         the character c
 *
 * A malformed pattern is an error whatever the name, as in Go since 1.16.
 */

type GlobItem =
  | { kind: 'literal'; codePoint: number }
  | { kind: 'any' }
  | { kind: 'class'; negated: boolean; ranges: Array<[number, number]> };

/** A run of fixed-width items, optionally preceded by a star (Go's "chunk"). */
interface GlobChunk {
  star: boolean;
  items: GlobItem[];
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;

export class GlobSyntaxError extends Error {
  constructor(readonly pattern: string, readonly reason: string) {
    super(`syntax error in pattern "${pattern}": ${reason}`);
    this.name = 'GlobSyntaxError';
  }
}

/** A compiled filepath.Match pattern. The constructor throws GlobSyntaxError for a malformed one. */
export class Glob {
  private readonly chunks: GlobChunk[];

  constructor(readonly pattern: string) {
    this.chunks = parseGlob(pattern);
  }

  matches(name: string): boolean {
    const text = codePoints(name);
    let pos = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c] as GlobChunk;
      const last = c === this.chunks.length - 1;
      if (chunk.star && chunk.items.length === 0) {
        // A trailing star takes the rest of the name unless it crosses a separator.
        return !text.slice(pos).includes(SLASH);
      }
      let start = pos;
      for (;;) {
        const end = matchItems(chunk.items, text, start);
        // The last chunk must consume the whole name; an earlier one takes its first fit, which is
        // enough because every item has a fixed width.
        if (end !== -1 && (!last || end === text.length)) {
          pos = end;
          break;
        }
        if (!chunk.star || start >= text.length || text[start] === SLASH) return false;
        start++;
      }
    }
    return pos === text.length;
  }

  /**
   * How many path segments a matching name can have at most: one, plus one for each item that can
   * match a '/' (an escaped slash or a class that admits it).
   */
  maxSegments(): number {
    let segments = 1;
    for (const chunk of this.chunks) {
      for (const item of chunk.items) if (itemMatches(item, SLASH)) segments++;
    }
    return segments;
  }
}

/** BuildKit's containsWildcards: an unescaped '*', '?' or '['. */
export function containsWildcards(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

/** Throws GlobSyntaxError when `pattern` is not a valid filepath.Match pattern. */
export function validateGlob(pattern: string): void {
  parseGlob(pattern);
}

function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0) as number);
  return out;
}

function itemMatches(item: GlobItem, codePoint: number): boolean {
  switch (item.kind) {
    case 'literal':
      return item.codePoint === codePoint;
    case 'any':
      return codePoint !== SLASH;
    case 'class': {
      const inRange = item.ranges.some(([lo, hi]) => lo <= codePoint && codePoint <= hi);
      return inRange !== item.negated;
    }
  }
}

/** Index after the items matched at `start`, or -1. */
function matchItems(items: GlobItem[], text: number[], start: number): number {
  if (start + items.length > text.length) return -1;
  for (let i = 0; i < items.length; i++) {
    if (!itemMatches(items[i] as GlobItem, text[start + i] as number)) return -1;
  }
  return start + items.length;
}

function parseGlob(pattern: string): GlobChunk[] {
  const cps = codePoints(pattern);
  const chunks: GlobChunk[] = [];
  let i = 0;
  const fail = (reason: string): never => {
    throw new GlobSyntaxError(pattern, reason);
  };
  while (i < cps.length) {
    let star = false;
    while (cps[i] === 0x2a) {
      star = true;
      i++;
    }
    const items: GlobItem[] = [];
    while (i < cps.length && cps[i] !== 0x2a) {
      const cp = cps[i] as number;
      if (cp === 0x3f) {
        items.push({ kind: 'any' });
        i++;
      } else if (cp === BACKSLASH) {
        if (i + 1 >= cps.length) fail('trailing backslash');
        items.push({ kind: 'literal', codePoint: cps[i + 1] as number });
        i += 2;
      } else if (cp === 0x5b) {
        i = parseClass(cps, i + 1, items, fail);
      } else {
        items.push({ kind: 'literal', codePoint: cp });
        i++;
      }
    }
    chunks.push({ star, items });
  }
  return chunks;
}

/** Parses a class body starting after '['; returns the index after the closing ']'. */
function parseClass(cps: number[], start: number, items: GlobItem[], fail: (reason: string) => never): number {
  let i = start;
  let negated = false;
  if (cps[i] === 0x5e) {
    negated = true;
    i++;
  }
  const ranges: Array<[number, number]> = [];
  // One class character, possibly escaped; '-' and ']' may not start a range end.
  const classChar = (): number => {
    let cp = cps[i];
    if (cp === undefined || cp === 0x2d || cp === 0x5d) fail('bad character class');
    if (cp === BACKSLASH) {
      i++;
      cp = cps[i];
      if (cp === undefined) fail('trailing backslash in character class');
    }
    i++;
    if (i >= cps.length) fail('unterminated character class');
    return cp as number;
  };
  for (;;) {
    if (cps[i] === 0x5d && ranges.length > 0) {
      i++;
      break;
    }
    const lo = classChar();
    let hi = lo;
    if (cps[i] === 0x2d) {
      i++;
      hi = classChar();
    }
    ranges.push([lo, hi]);
  }
  items.push({ kind: 'class', negated, ranges });
  return i;
}
