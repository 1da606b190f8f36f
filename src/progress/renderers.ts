/**
 * Progress renderers. plain: one line per event, BuildKit-style ("#3 [build 2/4] RUN make",
 * "#3 CACHED", "#3 0.512 output"); tty: a live view of running steps with timers, finished steps
 * scrolling above; json: one event per line for tools; quiet: nothing.
 */
import type { ProgressEvent, ProgressSink } from './events.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet';

type Write = (text: string) => void;

export function createProgressSink(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): ProgressSink {
  const write: Write = (text) => stream.write(text);
  const resolved = mode === 'auto' ? (stream.isTTY ? 'tty' : 'plain') : mode;
  switch (resolved) {
    case 'tty':
      return new TtySink(write, () => stream.columns ?? 100);
    case 'json':
      return { emit: (e) => write(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n'), close: () => undefined };
    case 'quiet':
      return { emit: (e) => e.type === 'warning' && write(`WARNING: ${e.message}\n`), close: () => undefined };
    default:
      return new PlainSink(write);
  }
}

class PlainSink implements ProgressSink {
  private readonly starts = new Map<number, bigint>();
  private readonly partial = new Map<number, string>();

  constructor(private readonly write: Write) {}

  emit(event: ProgressEvent): void {
    switch (event.type) {
      case 'step-start':
        this.starts.set(event.id, process.hrtime.bigint());
        this.write(`#${event.id} ${event.label}\n`);
        break;
      case 'step-cached':
        this.write(`#${event.id} CACHED\n`);
        break;
      case 'step-miss':
        this.write(`#${event.id} cache miss: ${event.cause}\n`);
        break;
      case 'step-log': {
        const text = (this.partial.get(event.id) ?? '') + event.data;
        const lines = text.split('\n');
        this.partial.set(event.id, lines.pop() ?? '');
        const elapsed = this.elapsed(event.id);
        for (const line of lines) this.write(`#${event.id} ${elapsed} ${line}\n`);
        break;
      }
      case 'step-done': {
        const rest = this.partial.get(event.id);
        if (rest) this.write(`#${event.id} ${this.elapsed(event.id)} ${rest}\n`);
        this.partial.delete(event.id);
        this.write(`#${event.id} DONE ${event.seconds.toFixed(1)}s\n`);
        break;
      }
      case 'step-error':
        this.write(`#${event.id} ERROR: ${event.message}\n`);
        break;
      case 'info':
        this.write(`${event.message}\n`);
        break;
      case 'warning':
        this.write(`WARNING: ${event.message}\n`);
        break;
    }
  }

  private elapsed(id: number): string {
    const start = this.starts.get(id);
    return start === undefined ? '0.000' : (Number(process.hrtime.bigint() - start) / 1e9).toFixed(3);
  }

  close(): void {
    // Everything is written as it happens.
  }
}

interface TtyStep {
  label: string;
  start: bigint;
  lastLines: string[];
  partial: string;
}

/** A live block of running steps at the bottom of the terminal, redrawn at most 10 times a second. */
class TtySink implements ProgressSink {
  private readonly running = new Map<number, TtyStep>();
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly begin = process.hrtime.bigint();

  constructor(
    private readonly write: Write,
    private readonly columns: () => number,
  ) {}

  emit(event: ProgressEvent): void {
    switch (event.type) {
      case 'step-start':
        this.running.set(event.id, { label: event.label, start: process.hrtime.bigint(), lastLines: [], partial: '' });
        break;
      case 'step-cached':
        this.finish(event.id, 'CACHED');
        break;
      case 'step-miss': {
        const step = this.running.get(event.id);
        if (step) step.lastLines.push(`cache miss: ${event.cause}`);
        break;
      }
      case 'step-log': {
        const step = this.running.get(event.id);
        if (!step) break;
        const lines = (step.partial + event.data).split('\n');
        step.partial = lines.pop() ?? '';
        step.lastLines.push(...lines);
        step.lastLines = step.lastLines.slice(-6);
        break;
      }
      case 'step-done':
        this.finish(event.id, `${event.seconds.toFixed(1)}s`);
        break;
      case 'step-error': {
        const step = this.running.get(event.id);
        this.above(`\x1b[31m=> ERROR ${step?.label ?? ''}\x1b[0m\n${event.message}\n`);
        this.running.delete(event.id);
        break;
      }
      case 'info':
        this.above(`${event.message}\n`);
        break;
      case 'warning':
        this.above(`\x1b[33mWARNING:\x1b[0m ${event.message}\n`);
        break;
    }
    this.schedule();
  }

  private finish(id: number, note: string): void {
    const step = this.running.get(id);
    if (!step) return;
    this.running.delete(id);
    this.above(`\x1b[34m=> ${this.fit(step.label, 12)}\x1b[0m ${note}\n`);
  }

  private above(text: string): void {
    this.clear();
    this.write(text);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
    this.timer.unref();
  }

  private clear(): void {
    if (this.drawnLines > 0) this.write(`\x1b[${this.drawnLines}F\x1b[J`);
    this.drawnLines = 0;
  }

  private draw(): void {
    this.clear();
    const now = process.hrtime.bigint();
    const lines = [`[+] Building ${(Number(now - this.begin) / 1e9).toFixed(1)}s`];
    for (const step of this.running.values()) {
      lines.push(`=> ${this.fit(step.label, 10)} ${(Number(now - step.start) / 1e9).toFixed(1)}s`);
      for (const line of step.lastLines) lines.push(`\x1b[2m   ${this.fit(line, 4)}\x1b[0m`);
    }
    this.write(lines.join('\n') + '\n');
    this.drawnLines = lines.length;
    if (this.running.size > 0) this.schedule();
  }

  private fit(text: string, reserve: number): string {
    const width = Math.max(20, this.columns() - reserve);
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.clear();
  }
}
