import type { Command } from 'commander';
import { formatPlatform } from '../../image/platform.js';
import { parseReference, familiarReference } from '../../image/reference.js';
import { isIndexMediaType, type Platform } from '../../image/types.js';
import { isImageConfigMediaType } from '../../image/documents.js';
import { configPlatform, platformImages, readImageConfig, readIndex, readManifest } from '../../image/graph.js';
import { StoreImageIO } from '../../store/images.js';
import type { Store } from '../../store/store.js';
import type { Descriptor } from '../../image/types.js';
import { formatTable, humanAge, humanSize, type CliContext } from '../context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('images')
    .description('list images in the store')
    .option('-q, --quiet', 'only image IDs')
    .option('--format <format>', 'table (default) or json')
    .action(async (opts: { quiet?: boolean; format?: string }) => {
      const store = await ctx.openStore();
      const rows = await listImages(store);
      if (opts.quiet) {
        ctx.out([...new Set(rows.map((r) => r.id))].map((id) => `${id}\n`).join(''));
      } else if (opts.format === 'json') {
        ctx.out(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
      } else {
        ctx.out(
          formatTable(
            ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'PLATFORMS'],
            rows.map((r) => [r.repository, r.tag, r.id, humanAge(r.created), humanSize(r.size), r.platforms.join(',')]),
          ),
        );
      }
    });
}

export interface ImageRow {
  repository: string;
  tag: string;
  id: string;
  digest: string;
  created?: string;
  size: number;
  platforms: string[];
}

export async function listImages(store: Store): Promise<ImageRow[]> {
  const rows: ImageRow[] = [];
  for (const entry of await store.refs.list()) {
    const { repository, tag } = splitName(entry.name);
    const summary = await summarize(store, entry.descriptor);
    rows.push({ repository, tag, id: entry.descriptor.digest.slice(7, 19), digest: entry.descriptor.digest, ...summary });
  }
  return rows;
}

function splitName(name: string | undefined): { repository: string; tag: string } {
  if (!name) return { repository: '<none>', tag: '<none>' };
  const familiar = familiarReference(parseReference(name));
  const colon = familiar.lastIndexOf(':');
  return colon > familiar.lastIndexOf('/') ? { repository: familiar.slice(0, colon), tag: familiar.slice(colon + 1) } : { repository: familiar, tag: '<none>' };
}

async function summarize(store: Store, descriptor: Descriptor): Promise<{ created?: string; size: number; platforms: string[] }> {
  if (isIndexMediaType(descriptor.mediaType)) {
    const children = platformImages(await readIndex(new StoreImageIO(store), descriptor));
    let size = 0;
    let created: string | undefined;
    for (const child of children) {
      if (!(await store.content.has(child.digest))) continue;
      const s = await summarize(store, child);
      size += s.size;
      created = created && s.created && created > s.created ? created : (s.created ?? created);
    }
    return { created, size, platforms: children.map((c) => formatPlatform(c.platform as Platform)) };
  }
  const source = new StoreImageIO(store);
  const manifest = await readManifest(source, descriptor, `image ${descriptor.digest}`);
  const size = manifest.layers.reduce((sum, l) => sum + l.size, manifest.config.size);
  // An artifact (a signature, an SBOM, loaded or pulled under a name) has no platform: its type is listed instead.
  if (!isImageConfigMediaType(manifest.config.mediaType)) return { size, platforms: [manifest.artifactType ?? manifest.config.mediaType] };
  const config = await readImageConfig(source, manifest, `image ${descriptor.digest}`);
  return { created: config.created, size, platforms: [formatPlatform(configPlatform(config))] };
}
