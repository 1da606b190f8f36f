/**
 * ADD <url>: downloads http(s) sources into the build's temp dir, hashing while writing, verifying
 * --checksum. With --checksum the cache key is the checksum and nothing is downloaded on a hit;
 * without it the content is fetched each build and keyed by its digest (a changed file is a miss).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CopyStep } from '../../frontend/index.js';
import { GantryError, type Digest } from '../../util/index.js';
import type { ExecContext } from '../exec-context.js';
import type { SelectedSource } from './copy-plan.js';

export function isRemoteSource(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^git@/.test(source);
}

function isGitSource(source: string): boolean {
  return /^git@/.test(source) || /^git:\/\//.test(source) || /\.git(#.*)?$/.test(source) || /^https?:\/\/[^/]+\/.+\.git\b/.test(source);
}

export interface RemoteSources {
  /** What enters the cache key. */
  keyParts: string[];
  /** The sources, downloaded (now, or on first call when keyed by --checksum). */
  fetch(): Promise<SelectedSource[]>;
}

export async function planRemoteSources(step: CopyStep, urls: string[], ctx: ExecContext): Promise<RemoteSources> {
  const sources = urls.map((url) => {
    if (isGitSource(url)) {
      throw new GantryError(`ADD of a git repository (${url}) is not supported by gantry yet`, {
        location: { file: step.source.file, line: step.source.startLine, column: 1, lineText: step.source.original },
        hint: 'clone the repository in a RUN step, or into the build context before building',
      });
    }
    if (!/^https?:\/\//i.test(url)) {
      throw new GantryError(`ADD source ${url}: only http and https URLs are supported`, {
        location: { file: step.source.file, line: step.source.startLine, column: 1, lineText: step.source.original },
      });
    }
    const name = fileNameOf(url);
    if (name === undefined) {
      // Go's url.Parse refuses such a URL too, so BuildKit never downloads it.
      throw new GantryError(`ADD source ${url} is not a valid URL: it does not parse, or its path has a malformed percent-encoding or a NUL byte`, {
        location: { file: step.source.file, line: step.source.startLine, column: 1, lineText: step.source.original },
        hint: 'write a literal "%" as %25',
      });
    }
    return { url, name };
  });
  if (step.checksum && sources.length === 1) {
    let fetched: Promise<SelectedSource[]> | undefined;
    return { keyParts: [step.checksum], fetch: () => (fetched ??= Promise.all(sources.map((s, i) => download(s, ctx, step, i))).then((all) => all.map((d) => d.source))) };
  }
  if (step.checksum) throw new GantryError('ADD --checksum works with exactly one URL source', { hint: 'split the ADD into one instruction per URL' });
  const downloads = await Promise.all(sources.map((s, i) => download(s, ctx, step, i)));
  return { keyParts: downloads.map((d) => d.digest), fetch: async () => downloads.map((d) => d.source) };
}

async function download({ url, name }: { url: string; name: string }, ctx: ExecContext, step: CopyStep, index: number): Promise<{ source: SelectedSource; digest: Digest }> {
  const dir = join(ctx.tmpDir, `download-${Date.now().toString(36)}-${index}`);
  await mkdir(dir, { recursive: true });
  const hostPath = join(dir, name);
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow', signal: ctx.signal });
  } catch (err) {
    throw new GantryError(`ADD ${url}: download failed: ${(err as Error).message}`, { cause: err });
  }
  if (!response.ok || !response.body) {
    throw new GantryError(`ADD ${url}: download failed: HTTP ${response.status} ${response.statusText}`);
  }
  const hash = createHash('sha256');
  let size = 0;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
  });
  try {
    await pipeline(body, createWriteStream(hostPath, { mode: 0o600 }));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new GantryError(`ADD ${url}: download failed: ${(err as Error).message}`, { cause: err });
  }
  const digest = `sha256:${hash.digest('hex')}` as Digest;
  if (step.checksum && step.checksum !== digest) {
    await rm(dir, { recursive: true, force: true });
    throw new GantryError(`ADD ${url}: checksum mismatch: expected ${step.checksum}, got ${digest}`, {
      hint: 'the file at that URL changed, or --checksum is wrong',
    });
  }
  const lastModified = response.headers.get('last-modified');
  // Without Last-Modified BuildKit dates the file at the epoch, so a download's time never depends on when it ran.
  const mtime = lastModified && !Number.isNaN(Date.parse(lastModified)) ? Math.floor(Date.parse(lastModified) / 1000) : 0;
  return {
    digest,
    // Docker gives downloaded files mode 0600.
    source: { path: name, name, isDir: false, preserveOwner: false, entries: [{ rel: '', hostPath, type: 'file', mode: 0o600, uid: 0, gid: 0, size, mtime }] },
  };
}

/** The URL path's last element, or BuildKit's "__unnamed__" when it has none; undefined when the path cannot be decoded to a file name. */
function fileNameOf(url: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    return undefined;
  }
  const name = posix.basename(path);
  if (name.includes('\0')) return undefined;
  return !name || name === '/' || name === '.' ? '__unnamed__' : name;
}
