/** Messages between the compressor and its gzip worker threads. */

export interface GzipJob {
  id: number;
  /** Transferred to the worker; the block is its first `length` bytes. */
  block: ArrayBuffer;
  length: number;
  level: number;
}

export interface GzipJobResult {
  id: number;
  /** One complete gzip member, the first `length` bytes. */
  output: ArrayBuffer;
  length: number;
  /** True when the block was stored (level 0) because it looked incompressible. */
  stored: boolean;
}
