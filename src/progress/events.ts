/** Build progress as events; renderers (plain, tty, json, quiet) turn them into output. */

export type ProgressEvent =
  | { type: 'step-start'; id: number; label: string }
  /** A cache hit. */
  | { type: 'step-cached'; id: number; label: string }
  /** A miss, with why it missed (absent for steps that never cache, e.g. FROM resolution). */
  | { type: 'step-miss'; id: number; cause: string }
  | { type: 'step-log'; id: number; stream: 'stdout' | 'stderr'; data: string }
  | { type: 'step-done'; id: number; seconds: number }
  | { type: 'step-error'; id: number; message: string }
  | { type: 'info'; message: string }
  | { type: 'warning'; message: string };

export interface ProgressSink {
  emit(event: ProgressEvent): void;
  /** Flushes and restores the terminal; called once at the end. */
  close(): void;
}

/** Hands out step ids and forwards events, so the solver need not count. */
export class Progress {
  constructor(
    private readonly sink: ProgressSink,
    private readonly counter = { next: 1 },
    private readonly platform?: string,
  ) {}

  /** Progress for one platform of a multi-platform build: "[build 2/4] RUN x" reads "[linux/arm64 build 2/4] RUN x". */
  forPlatform(platform: string): Progress {
    return new Progress(this.sink, this.counter, platform);
  }

  step(rawLabel: string): StepProgress {
    const label = this.platform ? (rawLabel.startsWith('[') ? `[${this.platform} ${rawLabel.slice(1)}` : `[${this.platform}] ${rawLabel}`) : rawLabel;
    const id = this.counter.next++;
    const started = process.hrtime.bigint();
    this.sink.emit({ type: 'step-start', id, label });
    const sink = this.sink;
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    return {
      id,
      label,
      cached: () => sink.emit({ type: 'step-cached', id, label }),
      miss: (cause) => sink.emit({ type: 'step-miss', id, cause }),
      log: (stream, data) => sink.emit({ type: 'step-log', id, stream, data }),
      done: () => {
        const s = seconds();
        sink.emit({ type: 'step-done', id, seconds: s });
        return s;
      },
      error: (message) => sink.emit({ type: 'step-error', id, message }),
    };
  }

  info(message: string): void {
    this.sink.emit({ type: 'info', message });
  }

  warning(message: string): void {
    this.sink.emit({ type: 'warning', message });
  }

  close(): void {
    this.sink.close();
  }
}

export interface StepProgress {
  readonly id: number;
  readonly label: string;
  cached(): void;
  miss(cause: string): void;
  log(stream: 'stdout' | 'stderr', data: string): void;
  /** Returns the step's duration in seconds. */
  done(): number;
  error(message: string): void;
}
