/**
 * Trimming Go white space (unicode.IsSpace) by position. The helpers in util/go-text.ts copy the whole
 * string into an array of characters first, which on a multi-megabyte instruction or heredoc costs
 * hundreds of megabytes; these look only at the white space they remove.
 */
import { isGoSpace } from '../util/index.js';

/** The code point starting at `at` (a lone surrogate stands alone). */
export function codePointAt(text: string, at: number): string {
  return String.fromCodePoint(text.codePointAt(at)!);
}

/** The code point ending just before `at` (a lone surrogate stands alone). */
function codePointBefore(text: string, at: number): string {
  const low = text.charCodeAt(at - 1);
  const high = at >= 2 ? text.charCodeAt(at - 2) : 0;
  return low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff ? text.slice(at - 2, at) : text[at - 1]!;
}

/** Where the text's leading and trailing white space end and start: [start, end). */
export function goSpaceBounds(text: string): [number, number] {
  let start = 0;
  while (start < text.length && isGoSpace(codePointAt(text, start))) start += codePointAt(text, start).length;
  let end = text.length;
  while (end > start && isGoSpace(codePointBefore(text, end))) end -= codePointBefore(text, end).length;
  return [start, end];
}

export function trimGoSpace(text: string): string {
  const [start, end] = goSpaceBounds(text);
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

export function trimGoSpaceLeft(text: string): string {
  let start = 0;
  while (start < text.length && isGoSpace(codePointAt(text, start))) start += codePointAt(text, start).length;
  return start === 0 ? text : text.slice(start);
}
