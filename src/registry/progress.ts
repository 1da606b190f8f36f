/** Byte counts and rates for one blob transfer, reported at most every PROGRESS_INTERVAL_MS. */
import type { CopyProgress } from '../image/index.js';
import type { Digest } from '../util/index.js';
import type { RegistryProgressEvent } from './options.js';

const PROGRESS_INTERVAL_MS = 200;

export class TransferProgress {
  private readonly startedAt = Date.now();
  private lastReport = 0;
  private bytes = 0;

  constructor(
    private readonly report: (event: RegistryProgressEvent) => void,
    private readonly direction: 'push' | 'pull',
    private readonly repository: string,
    private readonly digest: Digest,
    private readonly size: number,
  ) {}

  started(): void {
    this.emit('started');
  }

  /** Sets the byte count (it may go back when a transfer restarts). */
  at(bytes: number): void {
    this.bytes = bytes;
    const now = Date.now();
    if (now - this.lastReport >= PROGRESS_INTERVAL_MS) {
      this.lastReport = now;
      this.emit('progress');
    }
  }

  done(): void {
    this.bytes = this.size;
    this.emit('done');
  }

  private emit(phase: 'started' | 'progress' | 'done'): void {
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 0.001);
    this.report({
      kind: 'blob',
      direction: this.direction,
      repository: this.repository,
      digest: this.digest,
      size: this.size,
      phase,
      bytes: this.bytes,
      bytesPerSecond: Math.round(this.bytes / seconds),
    });
  }
}

/**
 * Progress callbacks for copyImage: blobs already at the destination are reported as "exists"; for
 * pulls, stored manifests too (a push reports its manifests as the registry accepts them).
 */
export function copyProgress(report: (event: RegistryProgressEvent) => void, direction: 'push' | 'pull', repository: string): CopyProgress {
  return {
    onBlob: (descriptor, state) => {
      if (state !== 'exists') return;
      report({ kind: 'blob', direction, repository, digest: descriptor.digest, size: descriptor.size, phase: 'exists', bytes: descriptor.size, bytesPerSecond: 0 });
    },
    onManifest: direction === 'pull' ? (descriptor) => report({ kind: 'manifest', direction, repository, descriptor }) : undefined,
  };
}
