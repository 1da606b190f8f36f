/** The order tools take turns in. */

/** `items` starting at position `by` (modulo its length), so that each tool goes first in some rounds. */
export function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
