/**
 * One copy loop for every place images live (the store, a registry repository, an OCI layout, a
 * docker archive): each is an ImageSource and/or ImageSink, and push, pull, save and load are all
 * `copyImage`. Children are copied before their parents — blobs, then manifests, then an index — so a
 * sink never holds a manifest whose content is missing, and a tagged index appears only after every
 * platform's image is complete.
 */
import { sha256, type Digest } from '../util/digest.js';
import { concurrencyLimiter } from '../util/concurrency.js';
import { GantryError } from '../util/errors.js';
import { formatPlatform, platformMatches } from './platform.js';
import { parseManifestOrIndex, type ParsedDocument } from './documents.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

export type BlobStream = AsyncIterable<Uint8Array>;

export interface ImageSource {
  /** For messages, e.g. "registry localhost:5000/app" or "oci layout out/". */
  readonly description: string;
  /** Raw bytes of a manifest or index, by digest. */
  getManifest(descriptor: Descriptor): Promise<Uint8Array>;
  openBlob(descriptor: Descriptor): Promise<BlobStream>;
}

export interface ImageSink {
  readonly description: string;
  hasBlob(descriptor: Descriptor): Promise<boolean>;
  /** Stores a blob, verifying its digest and size; nothing partial is left on failure. */
  putBlob(descriptor: Descriptor, open: () => Promise<BlobStream>): Promise<void>;
  hasManifest(descriptor: Descriptor): Promise<boolean>;
  /** Stores a manifest or index by digest, and under `tag` when given. */
  putManifest(descriptor: Descriptor, bytes: Uint8Array, tag?: string): Promise<void>;
}

export interface CopyProgress {
  onBlob?(descriptor: Descriptor, state: 'exists' | 'copied'): void;
  onManifest?(descriptor: Descriptor): void;
}

export interface CopyOptions extends CopyProgress {
  /** Copy only these platforms of an index (the copied index lists only them). */
  platforms?: Platform[];
  /** Blobs in flight at once. */
  concurrency?: number;
  /** Tag the root under this name in the sink, after everything else is in place. */
  tag?: string;
}

/** Copies the image (manifest or index) `root` and returns the root descriptor written to the sink. */
export async function copyImage(source: ImageSource, sink: ImageSink, root: Descriptor, options: CopyOptions = {}): Promise<Descriptor> {
  const copier = new Copier(source, sink, options);
  return copier.copyRoot(root);
}

class Copier {
  private readonly blobsDone = new Map<Digest, Promise<void>>();
  private firstError: unknown;
  private readonly limit: <T>(task: () => Promise<T>) => Promise<T>;

  constructor(
    private readonly source: ImageSource,
    private readonly sink: ImageSink,
    private readonly options: CopyOptions,
  ) {
    this.limit = concurrencyLimiter(options.concurrency ?? 4);
  }

  async copyRoot(root: Descriptor): Promise<Descriptor> {
    const bytes = await this.source.getManifest(root);
    const doc = parseManifestOrIndex(root, bytes, this.what(root));
    if (doc.kind === 'manifest' || !this.options.platforms) {
      await this.copyManifestTree(root, doc);
      await this.sink.putManifest(root, bytes, this.options.tag);
      this.options.onManifest?.(root);
      return root;
    }
    const index = doc.index;
    const wanted = this.options.platforms;
    const kept = index.manifests.filter((m) => m.platform && wanted.some((p) => platformMatches(p, m.platform as Platform)));
    const missing = wanted.filter((p) => !index.manifests.some((m) => m.platform && platformMatches(p, m.platform)));
    if (missing.length > 0) {
      const has = index.manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform as Platform));
      throw new GantryError(`${this.source.description} has no image for ${missing.map(formatPlatform).join(', ')}`, {
        hint: `it has: ${has.join(', ') || 'no platform-specific images'}`,
      });
    }
    if (kept.length === index.manifests.length) {
      await this.copyManifestTree(root, doc);
      await this.sink.putManifest(root, bytes, this.options.tag);
      this.options.onManifest?.(root);
      return root;
    }
    const filtered: ImageIndex = { ...index, manifests: kept };
    const filteredBytes = Buffer.from(JSON.stringify(filtered));
    const filteredRoot: Descriptor = { mediaType: root.mediaType, digest: sha256(filteredBytes), size: filteredBytes.length };
    await this.copyManifestTree(filteredRoot, { kind: 'index', index: filtered });
    await this.sink.putManifest(filteredRoot, filteredBytes, this.options.tag);
    this.options.onManifest?.(filteredRoot);
    return filteredRoot;
  }

  private what(descriptor: Descriptor): string {
    return `${this.source.description}: ${descriptor.digest}`;
  }

  /** Copies everything a manifest or index refers to (not the document itself). */
  private async copyManifestTree(descriptor: Descriptor, doc: ParsedDocument): Promise<void> {
    if (doc.kind === 'index') {
      // Every child completes (blobs, then its manifest) before the index is written.
      await this.all(
        doc.index.manifests.map(async (child) => {
          if (await this.sink.hasManifest(child)) return;
          const childBytes = await this.source.getManifest(child);
          await this.copyManifestTree(child, parseManifestOrIndex(child, childBytes, `${this.what(descriptor)} → ${child.digest}`));
          await this.sink.putManifest(child, childBytes);
          this.options.onManifest?.(child);
        }),
      );
      return;
    }
    const manifest = doc.manifest;
    await this.all([manifest.config, ...manifest.layers].map((blob) => this.copyBlob(blob)));
  }

  /**
   * Waits for every task, then throws the first failure: when a copy fails, no transfer it started is
   * still writing, and tasks not yet started are skipped.
   */
  private async all(tasks: Promise<void>[]): Promise<void> {
    const results = await Promise.allSettled(tasks);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw this.firstError ?? failed.reason;
  }

  private copyBlob(descriptor: Descriptor): Promise<void> {
    let done = this.blobsDone.get(descriptor.digest);
    if (!done) {
      done = this.limit(async () => {
        // After a failure, blobs still queued are not started.
        if (this.firstError !== undefined) throw this.firstError;
        try {
          if (await this.sink.hasBlob(descriptor)) {
            this.options.onBlob?.(descriptor, 'exists');
            return;
          }
          await this.sink.putBlob(descriptor, () => this.source.openBlob(descriptor));
          this.options.onBlob?.(descriptor, 'copied');
        } catch (err) {
          this.firstError ??= err;
          throw err;
        }
      });
      this.blobsDone.set(descriptor.digest, done);
    }
    return done;
  }
}
