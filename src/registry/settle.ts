/**
 * copyImage stops at the first failed blob while sibling transfers are still running; this sink
 * wrapper lets an operation wait for them before reporting, so when a pull fails no temp file is still
 * being written in the store, and when a push fails no upload is still going on.
 */
import { copyImage, type BlobStream, type CopyOptions, type ImageSink, type ImageSource } from '../image/copy.js';
import type { Descriptor } from '../image/types.js';

class SettlingSink implements ImageSink {
  readonly description: string;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly inner: ImageSink) {
    this.description = inner.description;
  }

  hasBlob(descriptor: Descriptor): Promise<boolean> {
    return this.track(this.inner.hasBlob(descriptor));
  }

  putBlob(descriptor: Descriptor, open: () => Promise<BlobStream>): Promise<void> {
    return this.track(this.inner.putBlob(descriptor, open));
  }

  hasManifest(descriptor: Descriptor): Promise<boolean> {
    return this.track(this.inner.hasManifest(descriptor));
  }

  putManifest(descriptor: Descriptor, bytes: Uint8Array, tag?: string): Promise<void> {
    return this.track(this.inner.putManifest(descriptor, bytes, tag));
  }

  async settle(): Promise<void> {
    for (;;) {
      await Promise.allSettled([...this.inFlight]);
      // Transfers queued behind the finished ones start on the next turns of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.inFlight.size === 0) return;
    }
  }

  private track<T>(operation: Promise<T>): Promise<T> {
    this.inFlight.add(operation);
    const forget = () => this.inFlight.delete(operation);
    operation.then(forget, forget);
    return operation;
  }
}

/** copyImage that, when it fails, returns only after every transfer it started has ended. */
export async function copyImageSettled(source: ImageSource, sink: ImageSink, root: Descriptor, options: CopyOptions = {}): Promise<Descriptor> {
  const settling = new SettlingSink(sink);
  try {
    return await copyImage(source, settling, root, options);
  } catch (err) {
    await settling.settle();
    throw err;
  }
}
