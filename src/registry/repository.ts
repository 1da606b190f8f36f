/**
 * One repository of a registry as an ImageSource and ImageSink of the copy loop (OCI distribution
 * spec 1.1). Reads try the configured pull mirrors first and fall back to the registry; writes go to
 * the registry only. Every blob read is hashed as it streams and resumed with Range after a broken
 * connection; every upload checks for the blob first, tries a cross-repository mount, then uploads
 * monolithically or in chunks and is restarted whole if it fails.
 */
import { createHash } from 'node:crypto';
import { type BlobStream, type ImageSink, type ImageSource, MediaType, type Descriptor, type ImageIndex, imageIndex, MAX_MANIFEST_BYTES, parseIndex, parseManifestOrIndex, referrerDescriptor, subjectOf } from '../image/index.js';
import { digestHex, hashToDigest, sha256, type Digest, GantryError } from '../util/index.js';
import { repositoryScope } from './auth.js';
import { knownBlobRepositories, rememberBlobLocation } from './blob-locations.js';
import { bodyChunks, discard, errorFromResponse, isTransientError, readBody, RegistryError, type HttpResponse } from './http.js';
import { TransferProgress } from './progress.js';
import { backoffDelay, sleep } from './retry.js';
import type { RegistryHost, RegistrySession } from './session.js';

const SCHEMA1_MEDIA_TYPES = ['application/vnd.docker.distribution.manifest.v1+prettyjws', 'application/vnd.docker.distribution.manifest.v1+json'];
const MANIFEST_MEDIA_TYPES: string[] = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList];
/** Every manifest type, sent on every manifest GET and HEAD; schema 1 is accepted only to be refused clearly. */
export const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, ...SCHEMA1_MEDIA_TYPES].join(', ');
/** Mount sources tried per blob. */
const MAX_MOUNT_ATTEMPTS = 3;

export interface RepositoryOptions {
  /** Open for pushing (token scope pull,push) rather than pulling only. */
  push?: boolean;
  /** Read through the session's mirrors for this registry first. */
  useMirrors?: boolean;
  /** Repositories of the same registry that may hold blobs to mount ("team/base" or "host/team/base"). */
  mountFrom?: string[];
}

export interface ResolvedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

interface Endpoint {
  host: RegistryHost;
  mirror: boolean;
}

export class RegistryRepository implements ImageSource, ImageSink {
  readonly description: string;
  private readonly origin: RegistryHost;
  private readonly readEndpoints: Endpoint[];
  private readonly scopes: string[];
  private readonly mountFrom: string[];

  constructor(
    private readonly session: RegistrySession,
    readonly registry: string,
    readonly repository: string,
    options: RepositoryOptions = {},
  ) {
    this.description = `registry ${registry}/${repository}`;
    this.origin = session.host(registry);
    const mirrors = options.useMirrors ? (session.options.mirrors[registry] ?? []) : [];
    this.readEndpoints = [...mirrors.map((spec) => ({ host: session.mirror(spec), mirror: true })), { host: this.origin, mirror: false }];
    this.scopes = [repositoryScope(repository, options.push ? ['pull', 'push'] : ['pull'])];
    this.mountFrom = (options.mountFrom ?? [])
      .map((name) => (name.startsWith(`${registry}/`) ? name.slice(registry.length + 1) : name))
      .filter((name) => name !== repository);
  }

  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  // ---- manifests ----

  /** Fetches the manifest or index a tag or digest names. */
  async resolve(reference: string): Promise<ResolvedManifest> {
    return this.fromEndpoints(async (endpoint) => this.fetchManifest(endpoint.host, reference, reference.startsWith('sha256:') ? (reference as Digest) : undefined));
  }

  async getManifest(descriptor: Descriptor): Promise<Uint8Array> {
    const { bytes, descriptor: found } = await this.fromEndpoints((endpoint) => this.fetchManifest(endpoint.host, descriptor.digest, descriptor.digest));
    if (found.size !== descriptor.size) {
      throw new RegistryError(`${this.description}: manifest ${descriptor.digest} is ${found.size} bytes, its descriptor says ${descriptor.size}`);
    }
    return bytes;
  }

  async hasManifest(descriptor: Descriptor): Promise<boolean> {
    const what = `HEAD ${this.name} manifest ${descriptor.digest}`;
    const response = await this.origin.request({
      method: 'HEAD',
      target: `/v2/${this.repository}/manifests/${descriptor.digest}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: this.scopes,
      what,
    });
    return this.existence(response, what);
  }

  async putManifest(descriptor: Descriptor, bytes: Uint8Array, tag?: string): Promise<void> {
    const reference = tag ?? descriptor.digest;
    const what = `PUT ${this.name} manifest ${reference}`;
    if (sha256(bytes) !== descriptor.digest) throw new GantryError(`${what}: the manifest bytes do not match ${descriptor.digest}`);
    const response = await this.origin.request({
      method: 'PUT',
      target: `/v2/${this.repository}/manifests/${reference}`,
      headers: { 'content-type': descriptor.mediaType },
      body: bytes,
      scopes: this.scopes,
      what,
    });
    if (response.status !== 201 && response.status !== 200) throw await errorFromResponse(response, what, pushHint(response.status, this.registry));
    await discard(response);
    const stored = response.headers['docker-content-digest'];
    if (stored && stored !== descriptor.digest) {
      throw new RegistryError(`${what}: the registry stored it as ${stored}, not ${descriptor.digest}`, {
        hint: 'the registry rewrote the manifest; gantry pushes manifests byte for byte and cannot use such a registry',
      });
    }
    this.session.options.onProgress({ kind: 'manifest', direction: 'push', repository: this.name, descriptor, tag });
    const doc = parseManifestOrIndex(descriptor, bytes, what);
    const subject = subjectOf(doc);
    // A registry with the referrers API answers OCI-Subject; without it, referrers live in a tagged index.
    if (subject && response.headers['oci-subject'] !== subject.digest) {
      await this.addToReferrersTag(subject.digest, referrerDescriptor(descriptor, doc));
    }
  }

  // ---- blobs ----

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    const what = `HEAD ${this.name} blob ${descriptor.digest}`;
    const response = await this.origin.request({
      method: 'HEAD',
      target: `/v2/${this.repository}/blobs/${descriptor.digest}`,
      scopes: this.scopes,
      what,
    });
    const exists = await this.existence(response, what);
    if (exists) rememberBlobLocation(descriptor.digest, this.registry, this.repository);
    return exists;
  }

  async openBlob(descriptor: Descriptor): Promise<BlobStream> {
    const start = await this.fromEndpoints(async (endpoint) => ({ endpoint, ...(await this.requestBlob(endpoint.host, descriptor, 0)) }));
    return this.readBlob(descriptor, start.endpoint, start.response, start.skip);
  }

  async putBlob(descriptor: Descriptor, open: () => Promise<BlobStream>): Promise<void> {
    const { attempts, baseDelayMs, maxDelayMs } = this.session.options.retry;
    for (let attempt = 1; ; attempt++) {
      try {
        // After a failed try the blob may have arrived all the same (the final PUT's answer was lost).
        if (attempt > 1 && (await this.hasBlob(descriptor))) return;
        await this.uploadBlob(descriptor, open, attempt === 1);
        rememberBlobLocation(descriptor.digest, this.registry, this.repository);
        return;
      } catch (err) {
        if (!isTransientError(err) || attempt >= attempts) throw err;
        const delayMs = backoffDelay(attempt, baseDelayMs, maxDelayMs);
        this.session.options.onProgress({ kind: 'retry', what: `upload of ${descriptor.digest} to ${this.name}`, attempt: attempt + 1, delayMs, reason: (err as Error).message });
        await sleep(delayMs);
      }
    }
  }

  // ---- referrers ----

  /** Manifests whose subject is `digest`: the referrers API, or the "sha256-<hex>" tag where the registry has none. */
  /**
   * Manifests whose subject is `digest`: the referrers API, following its pages (`Link: <…>; rel="next"`),
   * or, where the registry has no API, the referrers tag schema's `sha256-<hex>` index.
   */
  async listReferrers(digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    return this.fromEndpoints((endpoint) => this.referrersFrom(endpoint.host, digest, artifactType));
  }

  private async referrersFrom(host: RegistryHost, digest: Digest, artifactType: string | undefined): Promise<Descriptor[]> {
    const what = `GET ${this.name} referrers of ${digest}`;
    const query = new URLSearchParams(artifactType ? { artifactType } : {}).toString();
    let target: string | URL = `/v2/${this.repository}/referrers/${digest}${query ? `?${query}` : ''}`;
    const manifests: Descriptor[] = [];
    let filtered = true;
    for (let page = 1; ; page++) {
      const response = await host.request({ method: 'GET', target, headers: { accept: MediaType.ociIndex }, scopes: this.scopes, what });
      if (response.status === 404 && page === 1) {
        // No referrers API (the spec forbids a 404 from a registry that has one).
        await discard(response);
        manifests.push(...((await this.readReferrersTag(host, digest))?.manifests ?? []));
        filtered = false;
        break;
      }
      if (response.status !== 200) throw await errorFromResponse(response, what);
      manifests.push(...parseIndex(await readBody(response, MAX_MANIFEST_BYTES, what), what).manifests);
      filtered &&= (response.headers['oci-filters-applied'] ?? '').split(',').map((s) => s.trim()).includes('artifactType');
      const next = nextPage(response.headers.link, response.url);
      if (!next) break;
      if (page >= MAX_REFERRER_PAGES) throw new RegistryError(`${what}: more than ${MAX_REFERRER_PAGES} pages of referrers`);
      target = next;
    }
    return artifactType && !filtered ? manifests.filter((m) => m.artifactType === artifactType) : manifests;
  }

  // ---- internals ----

  private async fromEndpoints<T>(read: (endpoint: Endpoint) => Promise<T>): Promise<T> {
    for (const endpoint of this.readEndpoints) {
      try {
        return await read(endpoint);
      } catch (err) {
        // A mirror that fails or lacks the content is skipped; the registry itself has the last word.
        if (!endpoint.mirror) throw err;
      }
    }
    throw new Error('unreachable: the registry itself is always the last endpoint');
  }

  private async fetchManifest(host: RegistryHost, reference: string, expected: Digest | undefined): Promise<ResolvedManifest> {
    const what = `GET ${this.name} manifest ${reference}`;
    const response = await host.request({
      method: 'GET',
      target: `/v2/${this.repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: this.scopes,
      what,
    });
    if (response.status !== 200) {
      throw await errorFromResponse(response, what, response.status === 404 ? `check the name and tag; ${this.description} has no manifest ${reference}` : undefined);
    }
    const bytes = await readBody(response, MAX_MANIFEST_BYTES, what);
    const digest = sha256(bytes);
    if (expected && digest !== expected) throw new RegistryError(`${what}: received content with digest ${digest}; refusing it`, { hint: 'the registry or a proxy altered the manifest' });
    const announced = response.headers['docker-content-digest'];
    if (!expected && announced && announced !== digest) {
      throw new RegistryError(`${what}: the registry says ${announced} but the content hashes to ${digest}; refusing it`);
    }
    const mediaType = manifestMediaType(response.headers['content-type'], bytes, `${this.name}:${reference}`);
    if (expected === undefined) rememberBlobLocation(digest, this.registry, this.repository);
    return { descriptor: { mediaType, digest, size: bytes.length }, bytes };
  }

  private async existence(response: HttpResponse, what: string): Promise<boolean> {
    await discard(response);
    if (response.status === 200) return true;
    if (response.status === 404) return false;
    throw await errorFromResponse(response, what);
  }

  /** Starts (or, from `offset`, resumes) a blob download; `skip` is how many leading bytes to drop when a server ignored the Range. */
  private async requestBlob(host: RegistryHost, descriptor: Descriptor, offset: number): Promise<{ response: HttpResponse; skip: number }> {
    const what = `GET ${this.name} blob ${descriptor.digest}`;
    const response = await host.request({
      method: 'GET',
      target: `/v2/${this.repository}/blobs/${descriptor.digest}`,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      scopes: this.scopes,
      what,
    });
    if (offset > 0 && response.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers['content-range'] ?? '');
      if (!range || Number(range[1]) !== offset || (range[3] !== '*' && Number(range[3]) !== descriptor.size)) {
        await discard(response);
        throw new RegistryError(`${what}: asked to resume at byte ${offset}, the registry sent range "${response.headers['content-range'] ?? 'none'}"`);
      }
      return { response, skip: 0 };
    }
    if (response.status === 200) return { response, skip: offset };
    throw await errorFromResponse(response, what, response.status === 404 ? `${this.description} does not have this blob` : undefined);
  }

  private async *readBlob(descriptor: Descriptor, endpoint: Endpoint, first: HttpResponse, firstSkip: number): AsyncGenerator<Uint8Array> {
    const { attempts, baseDelayMs, maxDelayMs } = this.session.options.retry;
    const what = `GET ${this.name} blob ${descriptor.digest}`;
    const progress = new TransferProgress(this.session.options.onProgress, 'pull', this.name, descriptor.digest, descriptor.size);
    const hash = createHash('sha256');
    let offset = 0;
    let response = first;
    let skip = firstSkip;
    let failures = 0;
    progress.started();
    try {
      for (;;) {
        try {
          for await (const piece of bodyChunks(response, what)) {
            let chunk = piece;
            if (skip > 0) {
              const dropped = Math.min(skip, chunk.length);
              skip -= dropped;
              chunk = chunk.subarray(dropped);
              if (chunk.length === 0) continue;
            }
            offset += chunk.length;
            if (offset > descriptor.size) {
              throw new RegistryError(`${what}: the registry sent more than the ${descriptor.size} bytes the descriptor says`, {
                hint: 'the registry or a proxy altered the blob; nothing was stored',
              });
            }
            hash.update(chunk);
            progress.at(offset);
            yield chunk;
          }
          if (offset === descriptor.size) break;
          // The body ended early without an error: resume like after a broken connection.
          throw new RegistryError(`${what}: the connection ended after ${offset} of ${descriptor.size} bytes`, { connection: true });
        } catch (err) {
          if (!isTransientError(err) || ++failures >= attempts) {
            if (isTransientError(err)) {
              throw new RegistryError(`${what}: download failed after ${failures} attempts at byte ${offset} of ${descriptor.size}: ${(err as Error).message}`, { connection: true, cause: err });
            }
            throw err;
          }
          response.body.destroy();
          const delayMs = backoffDelay(failures, baseDelayMs, maxDelayMs);
          this.session.options.onProgress({ kind: 'retry', what, attempt: failures + 1, delayMs, reason: `${(err as Error).message}; resuming at byte ${offset}` });
          await sleep(delayMs);
          ({ response, skip } = await this.requestBlob(endpoint.host, descriptor, offset));
        }
      }
      const actual = hashToDigest(hash);
      if (actual !== descriptor.digest) {
        throw new RegistryError(`${what}: blob digest mismatch: the content hashes to ${actual}`, {
          hint: 'the registry or a proxy altered the blob; nothing was stored',
        });
      }
      rememberBlobLocation(descriptor.digest, this.registry, this.repository);
      progress.done();
    } finally {
      response.body.destroy();
    }
  }

  private async uploadBlob(descriptor: Descriptor, open: () => Promise<BlobStream>, tryMount: boolean): Promise<void> {
    let location: URL | undefined;
    let minChunk = 0;
    if (tryMount) {
      const mount = await this.tryMount(descriptor);
      if (mount === 'mounted') return;
      if (mount) ({ location, minChunk } = mount);
    }
    if (!location) ({ location, minChunk } = await this.startUpload(descriptor));
    try {
      if (descriptor.size <= this.session.options.chunkedUploadThreshold) await this.uploadMonolithic(descriptor, location, await open());
      else await this.uploadChunked(descriptor, location, await open(), Math.max(this.session.options.chunkSize, minChunk));
    } catch (err) {
      await this.cancelUpload(location);
      throw err;
    }
  }

  private async tryMount(descriptor: Descriptor): Promise<'mounted' | { location: URL; minChunk: number } | undefined> {
    const candidates = [...new Set([...this.mountFrom, ...knownBlobRepositories(descriptor.digest, this.registry)])]
      .filter((name) => name !== this.repository)
      .slice(0, MAX_MOUNT_ATTEMPTS);
    let session: { location: URL; minChunk: number } | undefined;
    for (const from of candidates) {
      if (session) await this.cancelUpload(session.location);
      const what = `POST ${this.name} mount ${descriptor.digest} from ${from}`;
      const query = new URLSearchParams({ mount: descriptor.digest, from });
      const response = await this.origin.request({
        method: 'POST',
        target: `/v2/${this.repository}/blobs/uploads/?${query}`,
        // One token for both repositories: push to ours, pull from the source.
        scopes: [...this.scopes, repositoryScope(from, ['pull'])],
        retryable: true,
        what,
      });
      await discard(response);
      if (response.status === 201) {
        this.session.options.onProgress({
          kind: 'blob',
          direction: 'push',
          repository: this.name,
          digest: descriptor.digest,
          size: descriptor.size,
          phase: 'mounted',
          bytes: descriptor.size,
          bytesPerSecond: 0,
        });
        rememberBlobLocation(descriptor.digest, this.registry, this.repository);
        return 'mounted';
      }
      if (response.status === 202 && response.headers.location) {
        session = { location: new URL(response.headers.location, (await this.origin.endpoint()).base), minChunk: Number(response.headers['oci-chunk-min-length']) || 0 };
        continue;
      }
      // A registry without mounts (or a refused source) answers otherwise: upload instead.
    }
    return session;
  }

  private async startUpload(descriptor: Descriptor): Promise<{ location: URL; minChunk: number }> {
    const what = `POST ${this.name} upload of ${descriptor.digest}`;
    const response = await this.origin.request({
      method: 'POST',
      target: `/v2/${this.repository}/blobs/uploads/`,
      scopes: this.scopes,
      retryable: true,
      what,
    });
    if (response.status !== 202 || !response.headers.location) throw await errorFromResponse(response, what, pushHint(response.status, this.registry));
    await discard(response);
    return {
      location: new URL(response.headers.location, (await this.origin.endpoint()).base),
      minChunk: Number(response.headers['oci-chunk-min-length']) || 0,
    };
  }

  private async uploadMonolithic(descriptor: Descriptor, location: URL, stream: BlobStream): Promise<void> {
    const progress = new TransferProgress(this.session.options.onProgress, 'push', this.name, descriptor.digest, descriptor.size);
    progress.started();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of stream) {
      size += chunk.length;
      if (size > descriptor.size) break;
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks);
    verifySource(descriptor, size, sha256(body));
    await this.finishUpload(descriptor, location, body);
    progress.done();
  }

  private async uploadChunked(descriptor: Descriptor, start: URL, stream: BlobStream, chunkSize: number): Promise<void> {
    const progress = new TransferProgress(this.session.options.onProgress, 'push', this.name, descriptor.digest, descriptor.size);
    progress.started();
    const hash = createHash('sha256');
    let location = start;
    let sent = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const sendChunk = async (chunk: Buffer) => {
      const what = `PATCH ${this.name} upload of ${descriptor.digest} at byte ${sent}`;
      const response = await this.origin.request({
        method: 'PATCH',
        target: location,
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${sent}-${sent + chunk.length - 1}`,
          'content-length': String(chunk.length),
        },
        body: chunk,
        scopes: this.scopes,
        // Whether a broken PATCH appended anything is unknowable: the whole upload is retried instead.
        retryable: false,
        what,
      });
      if (response.status !== 202 || !response.headers.location) throw await errorFromResponse(response, what);
      await discard(response);
      location = new URL(response.headers.location, location);
      sent += chunk.length;
      progress.at(sent);
    };
    let total = 0;
    for await (const piece of stream) {
      const chunk = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      hash.update(chunk);
      total += chunk.length;
      if (total > descriptor.size) break;
      pending.push(chunk);
      pendingBytes += chunk.length;
      while (pendingBytes >= chunkSize) {
        const joined = Buffer.concat(pending);
        await sendChunk(joined.subarray(0, chunkSize));
        pending = [joined.subarray(chunkSize)];
        pendingBytes = joined.length - chunkSize;
      }
    }
    // Checked before the final PUT, the only request that makes the blob exist.
    verifySource(descriptor, total, hashToDigest(hash));
    if (pendingBytes > 0) await sendChunk(Buffer.concat(pending));
    await this.finishUpload(descriptor, location, undefined);
    progress.done();
  }

  private async finishUpload(descriptor: Descriptor, location: URL, body: Buffer | undefined): Promise<void> {
    // Appended by hand: re-serializing the query could re-encode the registry's upload state.
    const url = new URL(location);
    url.search = `${url.search ? `${url.search}&` : '?'}digest=${encodeURIComponent(descriptor.digest)}`;
    const what = `PUT ${this.name} blob ${descriptor.digest}`;
    const response = await this.origin.request({
      method: 'PUT',
      target: url,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(body?.length ?? 0) },
      body: body ?? '',
      scopes: this.scopes,
      what,
    });
    if (response.status !== 201) throw await errorFromResponse(response, what, pushHint(response.status, this.registry));
    await discard(response);
  }

  /** Abandons an upload so the registry drops its partial data; failures here change nothing for the caller. */
  private async cancelUpload(location: URL): Promise<void> {
    try {
      const response = await this.origin.request({ method: 'DELETE', target: location, scopes: this.scopes, attempts: 1, what: `DELETE ${this.name} upload` });
      await discard(response);
    } catch {
      // The registry expires abandoned uploads by itself.
    }
  }

  private async readReferrersTag(host: RegistryHost, subject: Digest): Promise<ImageIndex | undefined> {
    const tag = referrersTag(subject);
    const what = `GET ${this.name} manifest ${tag}`;
    const response = await host.request({
      method: 'GET',
      target: `/v2/${this.repository}/manifests/${tag}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: this.scopes,
      what,
    });
    if (response.status === 404) {
      await discard(response);
      return undefined;
    }
    if (response.status !== 200) throw await errorFromResponse(response, what);
    return parseIndex(await readBody(response, MAX_MANIFEST_BYTES, what), what);
  }

  private async addToReferrersTag(subject: Digest, referrer: Descriptor): Promise<void> {
    const current = await this.readReferrersTag(this.origin, subject);
    const manifests = (current?.manifests ?? []).filter((m) => m.digest !== referrer.digest);
    manifests.push(referrer);
    const bytes = Buffer.from(JSON.stringify(imageIndex(manifests)));
    await this.putManifest({ mediaType: MediaType.ociIndex, digest: sha256(bytes), size: bytes.length }, bytes, referrersTag(subject));
  }
}

/** Pages of one referrers list gantry follows before it takes the registry to be looping. */
const MAX_REFERRER_PAGES = 1000;

/** The next page of a paginated answer (RFC 8288 `Link` with rel="next"), on the same registry only. */
export function nextPage(link: string | undefined, from: URL): URL | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (!match || !/(^|;)\s*rel="?next"?\s*(;|$)/.test(match[2]!)) continue;
    const next = new URL(match[1]!, from);
    return next.origin === from.origin ? next : undefined;
  }
  return undefined;
}

/** The tag under which referrers of `subject` are kept where the registry has no referrers API. */
export function referrersTag(subject: Digest): string {
  return `sha256-${digestHex(subject)}`;
}

/** Works out a manifest's media type from Content-Type and, for vague servers, from the document. */
export function manifestMediaType(contentType: string | undefined, bytes: Uint8Array, what: string): string {
  const type = contentType?.split(';')[0].trim().toLowerCase();
  let doc: { schemaVersion?: unknown; mediaType?: unknown; manifests?: unknown; config?: unknown } = {};
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
  } catch {
    throw new RegistryError(`${what}: the manifest is not JSON`);
  }
  if (type !== undefined && SCHEMA1_MEDIA_TYPES.includes(type)) throw schema1Error(what);
  if (doc.schemaVersion === 1) throw schema1Error(what);
  if (type !== undefined && MANIFEST_MEDIA_TYPES.includes(type)) return type;
  if (typeof doc.mediaType === 'string' && MANIFEST_MEDIA_TYPES.includes(doc.mediaType)) return doc.mediaType;
  if (Array.isArray(doc.manifests)) return MediaType.ociIndex;
  if (doc.config !== undefined) return MediaType.ociManifest;
  throw new RegistryError(`${what}: unsupported manifest type ${type ?? '(none given)'}`, {
    hint: `gantry reads ${MANIFEST_MEDIA_TYPES.join(', ')}`,
  });
}

function schema1Error(what: string): GantryError {
  return new GantryError(`${what} is a Docker schema 1 manifest, which gantry does not support`, {
    hint: 'schema 1 is deprecated and unsafe; push the image again with a current tool, which writes schema 2 or OCI manifests',
  });
}

function verifySource(descriptor: Descriptor, size: number, digest: Digest): void {
  if (size !== descriptor.size || digest !== descriptor.digest) {
    throw new GantryError(`blob ${descriptor.digest} to push does not match its descriptor (read ${size} bytes hashing to ${digest})`, {
      hint: 'the local copy is damaged; nothing was pushed for it',
    });
  }
}

function pushHint(status: number, registry: string): string | undefined {
  if (status === 403) return `the account has no push access to this repository on ${registry}`;
  if (status === 404) return 'the repository does not exist on the registry, and the registry does not create repositories on push';
  return undefined;
}
