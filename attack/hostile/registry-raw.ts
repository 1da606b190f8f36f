/**
 * Putting crafted content straight into a registry over HTTP, as a hostile publisher would: blobs by
 * monolithic upload, manifests byte for byte under a tag or digest. The registry's own checks decide
 * what it accepts; what it refuses, the caller serves through the fault proxy instead.
 */
import { sha256, type Blob } from './images.js';

const MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

export function isManifestBlob(blob: Blob): boolean {
  return MANIFEST_TYPES.has(blob.mediaType);
}

/** Uploads a blob monolithically (a POST opening the upload, one PUT with the bytes); true when the registry stored it. */
export async function uploadBlob(base: string, repository: string, bytes: Buffer): Promise<boolean> {
  const start = await fetch(`${base}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) return false;
  const url = new URL(location, base);
  url.searchParams.set('digest', sha256(bytes));
  const response = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  await response.arrayBuffer();
  return response.status === 201;
}

/** PUTs a manifest under `reference` (a tag or its digest); returns the registry's status. */
export async function putManifest(base: string, repository: string, reference: string, blob: Blob): Promise<number> {
  const response = await fetch(`${base}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': blob.mediaType },
    body: blob.bytes,
  });
  await response.arrayBuffer();
  return response.status;
}

/** Whether the registry has a blob or manifest (HEAD answers 200). */
export async function registryHas(base: string, repository: string, kind: 'blobs' | 'manifests', reference: string): Promise<boolean> {
  const response = await fetch(`${base}/v2/${repository}/${kind}/${reference}`, {
    method: 'HEAD',
    headers: { accept: [...MANIFEST_TYPES].join(', ') },
  });
  return response.status === 200;
}

/** The bytes of a manifest or blob as the registry serves them, or undefined. */
export async function registryGet(base: string, repository: string, kind: 'blobs' | 'manifests', reference: string): Promise<Buffer | undefined> {
  const response = await fetch(`${base}/v2/${repository}/${kind}/${reference}`, { headers: { accept: [...MANIFEST_TYPES].join(', ') } });
  const bytes = Buffer.from(await response.arrayBuffer());
  return response.status === 200 ? bytes : undefined;
}
