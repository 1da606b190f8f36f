/**
 * What every command gets: the store, opened on demand from --root / GANTRY_ROOT inside a session the
 * command holds until it exits (see store/session.ts), and output streams.
 */
import type { Command } from 'commander';
import { openSession, type SessionMode, type StoreSession } from '../store/session.js';
import type { Store } from '../store/store.js';
import { defaultStoreRoot } from '../store/store.js';

export interface CliContext {
  /** The store, in a shared session: prune waits until this command is done with it. */
  openStore(): Promise<Store>;
  /** The store, in the one session open on it (prune): waits for every other command to finish. */
  openStoreAlone(): Promise<StoreSession>;
  storeRoot(): string;
  out(text: string): void;
  err(text: string): void;
}

export function createCliContext(program: Command): CliContext {
  let session: Promise<StoreSession> | undefined;
  const storeRoot = () => (program.opts<{ root?: string }>().root as string | undefined) ?? defaultStoreRoot();
  let openedAs: SessionMode | undefined;
  const open = (mode: SessionMode): Promise<StoreSession> => {
    if (openedAs !== undefined && openedAs !== mode) throw new Error(`the store session is already open ${openedAs}, not ${mode}`);
    openedAs = mode;
    session ??= openSession(storeRoot(), mode, (message) => void process.stderr.write(`${message}\n`));
    return session;
  };
  // The session ends when the process does (its lock is an open file); commands need not release it.
  return {
    storeRoot,
    openStore: async () => (await open('shared')).store,
    openStoreAlone: () => open('exclusive'),
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
