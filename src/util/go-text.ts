/**
 * Text formats BuildKit produces with Go's standard library, reproduced so that AST dumps, history
 * strings and messages read exactly as BuildKit writes them: string quoting (`%q`), slice printing
 * (`%v`, `%q`), durations (`time.Duration`), duration parsing (`time.ParseDuration`) and Go's
 * notion of white space (`unicode.IsSpace`).
 */
import { GantryError } from './errors.js';

/** Go's unicode.IsSpace. */
export function isGoSpace(ch: string): boolean {
  switch (ch) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case '\u0085':
    case '\u00a0':
      return true;
  }
  const code = ch.codePointAt(0) ?? 0;
  return code > 0xff && /\p{Zs}|\u2028|\u2029/u.test(ch);
}

export function trimGoSpace(text: string): string {
  return trimGoSpaceRight(trimGoSpaceLeft(text));
}

export function trimGoSpaceLeft(text: string): string {
  let start = 0;
  const chars = Array.from(text);
  while (start < chars.length && isGoSpace(chars[start]!)) start++;
  return chars.slice(start).join('');
}

export function trimGoSpaceRight(text: string): string {
  const chars = Array.from(text);
  let end = chars.length;
  while (end > 0 && isGoSpace(chars[end - 1]!)) end--;
  return chars.slice(0, end).join('');
}

/** Go's strconv.IsPrint, approximated with Unicode categories (letters, marks, numbers, punctuation, symbols, U+0020). */
function isGoPrintable(ch: string): boolean {
  if (ch === ' ') return true;
  return /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch);
}

/** Go's strconv.Quote (also what `%q` does with a string). */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case '\\':
        out += '\\\\';
        continue;
      case '\x07':
        out += '\\a';
        continue;
      case '\b':
        out += '\\b';
        continue;
      case '\f':
        out += '\\f';
        continue;
      case '\n':
        out += '\\n';
        continue;
      case '\r':
        out += '\\r';
        continue;
      case '\t':
        out += '\\t';
        continue;
      case '\v':
        out += '\\v';
        continue;
    }
    if (isGoPrintable(ch)) {
      out += ch;
      continue;
    }
    const code = ch.codePointAt(0)!;
    if (code < 0x80) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return out + '"';
}

/** `fmt.Sprintf("%q", []string{...})`: `["a" "b"]`. */
export function goQuoteList(items: readonly string[]): string {
  return `[${items.map(goQuote).join(' ')}]`;
}

/** `fmt.Sprintf("%v", []string{...})`: `[a b]`. */
export function goList(items: readonly string[]): string {
  return `[${items.join(' ')}]`;
}

const NANOS = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 } as const;

/** Go's time.Duration.String for a duration in nanoseconds, e.g. "1m30s", "1.5s", "500ms", "0s". */
export function formatGoDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const negative = nanos < 0;
  let rest = Math.abs(nanos);
  let text: string;
  if (rest < 1e9) {
    // Sub-second durations use the largest unit that keeps the integer part non-zero.
    const [unit, size] = rest < 1e3 ? ['ns', 1] : rest < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    text = formatFraction(rest, size) + unit;
  } else {
    const hours = Math.floor(rest / 3600e9);
    rest -= hours * 3600e9;
    const minutes = Math.floor(rest / 60e9);
    rest -= minutes * 60e9;
    text = formatFraction(rest, 1e9) + 's';
    if (hours > 0) text = `${hours}h${minutes}m${text}`;
    else if (minutes > 0) text = `${minutes}m${text}`;
  }
  return negative ? `-${text}` : text;
}

function formatFraction(value: number, unit: number): string {
  const whole = Math.floor(value / unit);
  const fraction = value - whole * unit;
  if (fraction === 0) return String(whole);
  const digits = String(unit).length - 1;
  return `${whole}.${String(fraction).padStart(digits, '0').replace(/0+$/, '')}`;
}

/**
 * Go's time.ParseDuration: a sequence of decimal numbers with unit suffixes ("300ms", "1.5h", "2h45m").
 * Returns nanoseconds; throws a GantryError with Go's message on malformed input.
 */
export function parseGoDuration(text: string): number {
  const invalid = () => new GantryError(`time: invalid duration ${goQuote(text)}`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0;
  while (rest !== '') {
    const match = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = match?.[1] ?? '';
    const fraction = match?.[2];
    if (!match || (whole === '' && (fraction === undefined || fraction === ''))) throw invalid();
    rest = rest.slice(match[0].length);
    const unitMatch = /^[^\d.]+/.exec(rest);
    if (!unitMatch) throw new GantryError(`time: missing unit in duration ${goQuote(text)}`);
    const unit = unitMatch[0];
    rest = rest.slice(unit.length);
    const scale = (NANOS as Record<string, number>)[unit];
    if (scale === undefined) throw new GantryError(`time: unknown unit ${goQuote(unit)} in duration ${goQuote(text)}`);
    total += Number(whole === '' ? 0 : whole) * scale;
    if (fraction) total += Math.floor(Number(`0.${fraction}`) * scale);
  }
  if (total > Number.MAX_SAFE_INTEGER) throw invalid();
  return sign * total;
}
