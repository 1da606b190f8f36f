/**
 * "Did you mean ...?" suggestions, with BuildKit's rule: the closest option within an edit distance
 * below 3 (the first one wins a tie); an exact match means the value was not a typo.
 */

/**
 * The edit distance between `a` and `b` when it is below `limit`, else `limit`. Only a diagonal band of
 * the table `limit` wide can hold smaller distances, so a long word costs its length times the limit,
 * not the product of the lengths.
 */
export function levenshtein(a: string, b: string, limit = Infinity): number {
  const left = Array.from(a);
  const right = Array.from(b);
  if (Math.abs(left.length - right.length) >= limit) return limit;
  const band = Math.min(Math.max(left.length, right.length), limit);
  const far = Number.MAX_SAFE_INTEGER;
  let previous = Array.from({ length: right.length + 1 }, (_, j) => (j <= band ? j : far));
  let current = new Array<number>(right.length + 1).fill(far);
  for (let i = 1; i <= left.length; i++) {
    const lo = Math.max(1, i - band);
    const hi = Math.min(right.length, i + band);
    current[lo - 1] = lo === 1 ? i : far;
    for (let j = lo; j <= hi; j++) {
      const cost = left[i - 1] === right[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    if (hi < right.length) current[hi + 1] = far;
    [previous, current] = [current, previous];
  }
  return Math.min(previous[right.length]!, limit);
}

/** The option closest to `value`, or undefined when none is close or `value` is itself an option. */
export function suggest(value: string, options: Iterable<string>, caseSensitive = true): string | undefined {
  const wanted = caseSensitive ? value : value.toLowerCase();
  let match: string | undefined;
  let best = 3;
  for (const option of options) {
    const candidate = caseSensitive ? option : option.toLowerCase();
    if (candidate === wanted) return undefined;
    const distance = levenshtein(wanted, candidate, best);
    if (distance < best) {
      match = caseSensitive ? option : matchCase(candidate, value);
      best = distance;
    }
  }
  return match;
}

function matchCase(option: string, original: string): string {
  if (original === original.toLowerCase()) return option.toLowerCase();
  if (original === original.toUpperCase()) return option.toUpperCase();
  return option;
}
