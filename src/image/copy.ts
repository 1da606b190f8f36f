/**
 * One copy loop for every place images live (the store, a registry repository, an OCI layout, a
 * docker archive): each is an ImageSource and/or ImageSink, and push, pull, save and load are all
 * `copyImage`. Children are copied before their parents — blobs, then manifests, then an index — so a
 * sink never holds a manifest whose content is missing, and a tagged index appears only after every
 * platform's image is complete. Asked to, it also carries referrers (signatures, SBOMs: manifests whose
 * subject is a copied manifest or index), each after its subject, and theirs after them.
 */
import { sha256, type Digest, concurrencyLimiter, GantryError } from '../util/index.js';
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
  /** Manifests whose subject is `subject`; a source that cannot hold referrers has none. */
  listReferrers?(subject: Digest): Promise<Descriptor[]>;
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
  /** Carry the referrers of every manifest and index copied (and theirs), from sources that list them. */
  referrers?: boolean;
}

/** Copies the image (manifest or index) `root` and returns the root descriptor written to the sink. */
export async function copyImage(source: ImageSource, sink: ImageSink, root: Descriptor, options: CopyOptions = {}): Promise<Descriptor> {
  const copier = new Copier(source, sink, options);
  return copier.copyRoot(root);
}

/** Carries the referrers of `subject` (already in the sink) and theirs, as copyImage does for what it copies. */
export async function copyReferrers(source: ImageSource, sink: ImageSink, subject: Descriptor, options: CopyOptions = {}): Promise<void> {
  await new Copier(source, sink, { ...options, referrers: true }).copyReferrers(subject);
}

class Copier {
  private readonly blobsDone = new Map<Digest, Promise<void>>();
  /** Subjects whose referrers were (or are being) carried. */
  private readonly referrersDone = new Set<Digest>();
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
      await this.copyReferrers(root);
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
      await this.copyReferrers(root);
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
          if (!(await this.sink.hasManifest(child))) await this.copyDocument(child, `${this.what(descriptor)} → ${child.digest}`);
          await this.copyReferrers(child);
        }),
      );
      return;
    }
    const manifest = doc.manifest;
    await this.all([manifest.config, ...manifest.layers].map((blob) => this.copyBlob(blob)));
  }

  /** Copies a manifest or index the sink lacks: what it refers to, then the document itself. */
  private async copyDocument(descriptor: Descriptor, what: string): Promise<void> {
    const bytes = await this.source.getManifest(descriptor);
    await this.copyManifestTree(descriptor, parseManifestOrIndex(descriptor, bytes, what));
    await this.sink.putManifest(descriptor, bytes);
    this.options.onManifest?.(descriptor);
  }

  /**
   * Carries the referrers of `subject` (already in the sink), each whole, then theirs. A referrer the
   * sink has is not copied again, but its own referrers are still looked at: a signature may have been
   * added to an SBOM pushed earlier.
   */
  async copyReferrers(subject: Descriptor): Promise<void> {
    if (!this.options.referrers || !this.source.listReferrers || this.referrersDone.has(subject.digest)) return;
    this.referrersDone.add(subject.digest);
    const referrers = await this.source.listReferrers(subject.digest);
    await this.all(
      referrers.map(async (referrer) => {
        if (!(await this.sink.hasManifest(referrer))) await this.copyDocument(referrer, `${this.source.description}: referrer ${referrer.digest} of ${subject.digest}`);
        await this.copyReferrers(referrer);
      }),
    );
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
