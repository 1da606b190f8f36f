/**
 * Options shared by every registry operation, and their defaults. One options object may be passed to
 * many calls: calls given the same object share a session (resolved endpoints, tokens, connections).
 */
import type { Descriptor } from '../image/index.js';
import { type Digest, GantryError } from '../util/index.js';

export interface RetryOptions {
  /** Tries per request, the first included (default 5). */
  attempts?: number;
  /** First back-off delay; it doubles each retry, with jitter (default 500 ms). */
  baseDelayMs?: number;
  /** Longest back-off delay, also the cap on a server's Retry-After (default 30 s). */
  maxDelayMs?: number;
}

export type RegistryProgressEvent =
  | {
      kind: 'blob';
      direction: 'push' | 'pull';
      /** "host/repository" the blob moves to or from. */
      repository: string;
      digest: Digest;
      size: number;
      /**
       * started: transfer began; progress: `bytes` so far; done: transferred and verified;
       * exists: already at the destination; mounted: linked from another repository of the registry.
       */
      phase: 'started' | 'progress' | 'done' | 'exists' | 'mounted';
      bytes: number;
      /** Average rate since the transfer started. */
      bytesPerSecond: number;
    }
  | {
      kind: 'manifest';
      direction: 'push' | 'pull';
      repository: string;
      descriptor: Descriptor;
      tag?: string;
    }
  | {
      kind: 'retry';
      /** What is retried, e.g. "GET localhost:5000/app blob sha256:…". */
      what: string;
      /** The attempt about to start (2 for the first retry). */
      attempt: number;
      delayMs: number;
      reason: string;
    };

export interface RegistryOptions {
  /**
   * Registries ("host" or "host:port") reached over plain HTTP, or over HTTPS without certificate
   * verification. Loopback registries (localhost, 127.0.0.0/8, ::1) may use plain HTTP without being listed.
   */
  insecureRegistries?: string[];
  /** Pull mirrors per registry host, tried in order before the registry itself, e.g. {"docker.io": ["https://mirror.example"]}. */
  mirrors?: Record<string, string[]>;
  /** Directory holding config.json (default $DOCKER_CONFIG, else ~/.docker). */
  dockerConfigDir?: string;
  /** Environment for locating the Docker config and running credential helpers (default process.env). */
  env?: NodeJS.ProcessEnv;
  retry?: RetryOptions;
  /** Blob transfers in flight at once (default 4). */
  concurrency?: number;
  /** Blobs larger than this are uploaded in chunks (default 16 MiB). */
  chunkedUploadThreshold?: number;
  /** Size of each chunk of a chunked upload (default 8 MiB; raised to the registry's OCI-Chunk-Min-Length). */
  chunkSize?: number;
  /** Longest wait for response headers, and for the next piece of a body (default 60 s). */
  timeoutMs?: number;
  onProgress?: (event: RegistryProgressEvent) => void;
  userAgent?: string;
}

export interface ResolvedOptions {
  insecureRegistries: Set<string>;
  mirrors: Record<string, string[]>;
  dockerConfigDir?: string;
  env: NodeJS.ProcessEnv;
  retry: Required<RetryOptions>;
  concurrency: number;
  chunkedUploadThreshold: number;
  chunkSize: number;
  timeoutMs: number;
  onProgress: (event: RegistryProgressEvent) => void;
  userAgent: string;
}

const MiB = 1024 * 1024;

export function resolveOptions(options: RegistryOptions): ResolvedOptions {
  const positive = (value: number | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value <= 0) throw new GantryError(`registry option ${name} must be a positive number, got ${value}`);
    return value;
  };
  return {
    insecureRegistries: new Set((options.insecureRegistries ?? []).map((host) => host.trim().toLowerCase()).filter((host) => host !== '')),
    mirrors: options.mirrors ?? {},
    dockerConfigDir: options.dockerConfigDir,
    env: options.env ?? process.env,
    retry: {
      attempts: Math.floor(positive(options.retry?.attempts, 5, 'retry.attempts')),
      baseDelayMs: positive(options.retry?.baseDelayMs, 500, 'retry.baseDelayMs'),
      maxDelayMs: positive(options.retry?.maxDelayMs, 30_000, 'retry.maxDelayMs'),
    },
    concurrency: Math.floor(positive(options.concurrency, 4, 'concurrency')),
    chunkedUploadThreshold: positive(options.chunkedUploadThreshold, 16 * MiB, 'chunkedUploadThreshold'),
    chunkSize: Math.floor(positive(options.chunkSize, 8 * MiB, 'chunkSize')),
    timeoutMs: positive(options.timeoutMs, 60_000, 'timeoutMs'),
    onProgress: options.onProgress ?? (() => undefined),
    userAgent: options.userAgent ?? 'gantry',
  };
}
