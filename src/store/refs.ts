/**
 * Image names in the store's OCI layout `index.json`. Each named image is a descriptor annotated with
 * `org.opencontainers.image.ref.name` (the familiar name, e.g. "app:1.0", so `skopeo inspect
 * oci:ROOT:app:1.0` finds it) and `io.containerd.image.name` (the full name). Untagged build results
 * are kept as descriptors without names until pruned. Every update is a locked read-modify-write with
 * an atomic replace of index.json.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Descriptor, type ImageIndex, parseReference, formatReference, nameFromAnnotations, namedDescriptor, withoutNames, checkDescriptor, imageIndex } from '../image/index.js';
import { errnoCode, GantryError, isGantryError, writeFileAtomic, type Digest } from '../util/index.js';
import { withLock } from './lock.js';

export interface NamedImage {
  /** Full normalized name, e.g. "docker.io/library/app:1.0"; undefined for an untagged image. */
  name?: string;
  descriptor: Descriptor;
}

export class ImageRefs {
  readonly indexPath: string;
  private readonly lockPath: string;

  constructor(root: string) {
    this.indexPath = join(root, 'index.json');
    this.lockPath = join(root, 'locks', 'index.lock');
  }

  async list(): Promise<NamedImage[]> {
    const index = await this.read();
    return index.manifests.map((descriptor) => ({ name: nameFromAnnotations(descriptor), descriptor: withoutNames(descriptor) }));
  }

  /** The descriptor a name points to; accepts familiar or full names. */
  async get(name: string): Promise<Descriptor | undefined> {
    const full = formatReference(parseReference(name));
    return (await this.list()).find((entry) => entry.name === full)?.descriptor;
  }

  /** Points `name` at `descriptor`, replacing what it pointed to. */
  async set(name: string, descriptor: Descriptor): Promise<void> {
    const ref = parseReference(name);
    if (ref.tag === undefined) {
      throw new GantryError(`cannot name an image "${name}" without a tag`, { hint: 'add a tag, e.g. app:latest' });
    }
    const full = formatReference({ ...ref, digest: undefined });
    await this.update((entries) => {
      const kept = entries.filter((e) => e.name !== full && !(e.name === undefined && e.descriptor.digest === descriptor.digest));
      kept.push({ name: full, descriptor: withoutNames(descriptor) });
      return kept;
    });
  }

  /** Keeps an untagged image (a build without -t) so it survives until pruned. */
  async keepUntagged(descriptor: Descriptor): Promise<void> {
    await this.update((entries) =>
      entries.some((e) => e.descriptor.digest === descriptor.digest) ? entries : [...entries, { descriptor: withoutNames(descriptor) }],
    );
  }

  /** Removes a name; returns the descriptor it pointed to. */
  async remove(name: string): Promise<Descriptor | undefined> {
    const full = formatReference(parseReference(name));
    let removed: Descriptor | undefined;
    await this.update((entries) =>
      entries.filter((e) => {
        if (e.name !== full) return true;
        removed = e.descriptor;
        return false;
      }),
    );
    return removed;
  }

  /** Removes every entry (named or not) for a digest; returns the names removed. */
  async removeDigest(digest: Digest): Promise<string[]> {
    const names: string[] = [];
    await this.update((entries) =>
      entries.filter((e) => {
        if (e.descriptor.digest !== digest) return true;
        if (e.name) names.push(e.name);
        return false;
      }),
    );
    return names;
  }

  async update(change: (entries: NamedImage[]) => NamedImage[]): Promise<void> {
    await withLock(this.lockPath, 'exclusive', async () => {
      const current = await this.list();
      const next = change(current);
      const index = imageIndex(next.map(({ name, descriptor }) => (name ? namedDescriptor(descriptor, name) : descriptor)));
      await writeFileAtomic(this.indexPath, JSON.stringify(index, null, 2) + '\n');
    });
  }

  /**
   * index.json as stored. Entries that are not valid descriptors (an invalid digest could only come
   * from a store written before gantry checked them, or by hand) are left out, and the next update
   * drops them: they name nothing gantry could read.
   */
  private async read(): Promise<ImageIndex> {
    let index: Partial<ImageIndex>;
    try {
      index = JSON.parse(await readFile(this.indexPath, 'utf8')) as Partial<ImageIndex>;
      if (typeof index !== 'object' || index === null || !Array.isArray(index.manifests)) throw new Error('no manifests list');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return imageIndex([]);
      throw new GantryError(`the store's index.json is unreadable: ${(err as Error).message}`, {
        hint: 'it is only written atomically by gantry; if it was edited by hand, restore it from a backup',
      });
    }
    const manifests = (index.manifests as unknown[]).filter((entry, i) => {
      try {
        checkDescriptor(entry, `index.json entry ${i + 1}`);
        return true;
      } catch (err) {
        if (isGantryError(err)) return false;
        throw err;
      }
    }) as Descriptor[];
    return imageIndex(manifests);
  }
}
