/**
 * The store's referrers index: for each manifest or index that other manifests name as their
 * `subject` (signatures, SBOMs, provenance), the list of those referrers, as the OCI distribution
 * spec's referrers API returns it. Kept beside the OCI layout in `referrers/<subject hex>.json` (an
 * image index of referrer descriptors, each with its artifactType and annotations), written by a
 * locked read-modify-write and an atomic replace, so a reader sees the old list or the new one.
 *
 * Every manifest that enters the store with a subject is added (artifacts written here, pulls,
 * loads); prune keeps the referrers of every image it keeps and drops entries whose referrer it removed.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { checkDescriptor, imageIndex, type Descriptor, type ImageIndex } from '../image/index.js';
import { digestHex, type Digest, errnoCode, isGantryError, writeFileAtomic } from '../util/index.js';
import { withLock } from './lock.js';

export class ReferrersIndex {
  private readonly dir: string;
  private readonly lockPath: string;

  constructor(root: string) {
    this.dir = join(root, 'referrers');
    this.lockPath = join(root, 'locks', 'referrers.lock');
  }

  /** The referrers of `subject`, optionally only those of one artifactType. */
  async list(subject: Digest, artifactType?: string): Promise<Descriptor[]> {
    const all = await this.read(subject);
    return artifactType === undefined ? all : all.filter((d) => d.artifactType === artifactType);
  }

  /** Records `referrer` (a manifest whose subject is `subject`); adding it again changes nothing. */
  async add(subject: Digest, referrer: Descriptor): Promise<void> {
    await this.change(subject, (current) => (current.some((d) => d.digest === referrer.digest) ? current : [...current, referrer]));
  }

  /** Subjects that have referrers recorded. */
  async subjects(): Promise<Digest[]> {
    const names = await readdir(this.dir).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return [] as string[];
      throw err;
    });
    return names.filter((name) => /^[a-f0-9]{64}\.json$/.test(name)).map((name) => `sha256:${name.slice(0, 64)}` as Digest);
  }

  /** Keeps, for every subject, only the referrers `keep` accepts; a subject left with none loses its file. */
  async retain(keep: (subject: Digest, referrer: Descriptor) => boolean): Promise<void> {
    for (const subject of await this.subjects()) await this.change(subject, (current) => current.filter((d) => keep(subject, d)));
  }

  private path(subject: Digest): string {
    return join(this.dir, `${digestHex(subject)}.json`);
  }

  private async change(subject: Digest, next: (current: Descriptor[]) => Descriptor[]): Promise<void> {
    await withLock(this.lockPath, 'exclusive', async () => {
      const current = await this.read(subject);
      const updated = next(current);
      if (updated === current) return;
      if (updated.length === 0) {
        await rm(this.path(subject), { force: true });
        return;
      }
      await writeFileAtomic(this.path(subject), JSON.stringify(imageIndex(updated)));
    });
  }

  /** A missing or unreadable list reads as empty: it names nothing gantry could use. */
  private async read(subject: Digest): Promise<Descriptor[]> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(this.path(subject), 'utf8'));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || err instanceof SyntaxError) return [];
      throw err;
    }
    const manifests = (parsed as Partial<ImageIndex> | null)?.manifests;
    if (!Array.isArray(manifests)) return [];
    return manifests.filter((entry, i) => {
      try {
        checkDescriptor(entry, `referrers of ${subject} entry ${i + 1}`);
        return true;
      } catch (err) {
        if (isGantryError(err)) return false;
        throw err;
      }
    });
  }
}
