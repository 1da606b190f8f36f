/**
 * What every command gets: where the store is (--root, GANTRY_ROOT, else the default for this user),
 * with a notice on stderr when a use case waits for another command to finish with it, and output streams.
 */
import type { Command } from 'commander';
import { defaultStoreRoot, type StoreAccess } from '../app/index.js';

export interface CliContext {
  store(): StoreAccess;
  out(text: string): void;
  err(text: string): void;
}

export function createCliContext(program: Command): CliContext {
  return {
    store: () => ({
      root: (program.opts<{ root?: string }>().root as string | undefined) ?? defaultStoreRoot(),
      onWait: (message) => void process.stderr.write(`${message}\n`),
    }),
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
  };
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Fixed-width table, like docker's CLI output. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + 3))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)}${units[unit]}`;
}

export function humanAge(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (Number.isNaN(seconds)) return 'N/A';
  const steps: Array<[number, string]> = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year']];
  let value = seconds;
  for (const [size, name] of steps) {
    if (value < size) {
      const n = Math.floor(value);
      return n <= 1 && name === 'second' ? 'Less than a second ago' : `${n} ${name}${n === 1 ? '' : 's'} ago`;
    }
    value /= size;
  }
  return 'N/A';
}
