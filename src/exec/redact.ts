/**
 * Keeps secret values out of a container's output as gantry passes it on (progress, the tail quoted in
 * error messages): every occurrence is replaced by REDACTED, also when it is split across chunks. A
 * value is hidden without its surrounding whitespace (a file's final newline stays in the output) and,
 * for a value of several lines, also line by line (lines of at least 8 bytes: shorter ones would hide
 * ordinary output such as a lone brace).
 */

export const REDACTED = Buffer.from('****');
const MIN_LINE = 8;

/** The byte strings to hide for these secret values, longest first. */
export function redactionPatterns(values: readonly Buffer[]): Buffer[] {
  const patterns = new Map<string, Buffer>();
  // latin1 maps bytes to characters one to one, so any value survives the round trip.
  const add = (text: string) => {
    if (text.length > 0) patterns.set(text, Buffer.from(text, 'latin1'));
  };
  for (const value of values) {
    const text = value.toString('latin1');
    add(text.trim());
    const lines = text.split(/\r?\n/).map((line) => line.trim());
    if (lines.filter(Boolean).length > 1) for (const line of lines) if (line.length >= MIN_LINE) add(line);
  }
  return [...patterns.values()].sort((a, b) => b.length - a.length);
}

/** A filter for one output stream. */
export class Redactor {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly patterns: readonly Buffer[]) {}

  /** What of the output so far can be passed on: everything but a tail that may be the start of a secret. */
  push(chunk: Buffer): Buffer {
    if (this.patterns.length === 0) return chunk;
    const text = this.replace(Buffer.concat([this.pending, chunk]));
    const keep = this.heldBack(text);
    this.pending = text.subarray(text.length - keep);
    return text.subarray(0, text.length - keep);
  }

  /** The rest, at the end of the stream. */
  flush(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }

  private replace(text: Buffer): Buffer {
    let out = text;
    for (const pattern of this.patterns) {
      let at = out.indexOf(pattern);
      if (at < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at >= 0) {
        parts.push(out.subarray(from, at), REDACTED);
        from = at + pattern.length;
        at = out.indexOf(pattern, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  /** Length of the longest end of `text` that is a proper beginning of a pattern. */
  private heldBack(text: Buffer): number {
    let longest = 0;
    for (const pattern of this.patterns) {
      // The earliest start that matches gives the longest end; starts are found by the first byte.
      let start = text.indexOf(pattern[0]!, Math.max(0, text.length - (pattern.length - 1)));
      while (start >= 0 && text.length - start > longest) {
        if (text.subarray(start).equals(pattern.subarray(0, text.length - start))) {
          longest = text.length - start;
          break;
        }
        start = text.indexOf(pattern[0]!, start + 1);
      }
    }
    return longest;
  }
}
