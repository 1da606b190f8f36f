/**
 * Validated parsing of image documents — manifests, indexes and image configs — whatever they come
 * from: the store, a registry, an OCI layout or a docker archive. Nothing read from outside is trusted:
 * a document is checked field by field before any of it is used, and a malformed one is a GantryError
 * naming the document and the field, never a crash later on.
 *
 * Digests matter most, because gantry turns them into file paths (`blobs/sha256/<hex>`): every digest
 * must be `sha256:` and 64 lowercase hex digits, as containerd and skopeo require ("invalid checksum
 * digest format"). sha512 and other registered algorithms are well-formed but not supported, and say so.
 *
 * The parsers return the parsed object itself once it is checked (unknown fields kept, as the bytes
 * are kept), typed as the document it proved to be.
 */
import { GantryError, quoteForMessage, checkDigest } from '../util/index.js';
import {
  isIndexMediaType,
  isManifestMediaType,
  MediaType,
  type ContainerConfig,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from './types.js';

/** Manifests and indexes larger than this are refused (the distribution spec's recommended limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Image configs larger than this are refused: real ones are a few KiB, with long histories a few hundred. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

const MALFORMED_HINT = 'the image is malformed or was altered; nothing of it was used';

function malformed(what: string, problem: string): GantryError {
  return new GantryError(`${what}: ${problem}`, { hint: MALFORMED_HINT });
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw malformed(what, `expected an object, found ${typeName(value)}`);
  return value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${quoteForMessage(value, 40)}`;
}

function optionalString(doc: JsonObject, field: string, what: string): void {
  if (doc[field] !== undefined && typeof doc[field] !== 'string') throw malformed(what, `${field} must be a string, found ${typeName(doc[field])}`);
}

function requiredString(doc: JsonObject, field: string, what: string): string {
  const value = doc[field];
  if (typeof value !== 'string') throw malformed(what, `${field} must be a string, found ${value === undefined ? 'nothing' : typeName(value)}`);
  return value;
}

function optionalStringList(doc: JsonObject, field: string, what: string, nullable = false): void {
  const value = doc[field];
  if (value === undefined || (nullable && value === null)) return;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw malformed(what, `${field} must be a list of strings`);
}

function optionalStringMap(doc: JsonObject, field: string, what: string): void {
  const value = doc[field];
  if (value === undefined || value === null) return;
  if (!isObject(value) || !Object.values(value).every((item) => typeof item === 'string')) throw malformed(what, `${field} must map strings to strings`);
}

function optionalObjectMap(doc: JsonObject, field: string, what: string): void {
  const value = doc[field];
  if (value === undefined || value === null) return;
  if (!isObject(value) || !Object.values(value).every(isObject)) throw malformed(what, `${field} must map strings to objects`);
}

/** RFC 6838 media type names, as the image spec requires of descriptors. */
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

function checkPlatform(value: unknown, what: string): Platform {
  const platform = object(value, what);
  requiredString(platform, 'os', what);
  requiredString(platform, 'architecture', what);
  optionalString(platform, 'variant', what);
  optionalString(platform, 'os.version', what);
  optionalStringList(platform, 'os.features', what);
  return platform as unknown as Platform;
}

/** Checks a content descriptor: media type, digest, size, and the optional fields' types. */
export function checkDescriptor(value: unknown, what: string): Descriptor {
  const descriptor = object(value, what);
  const mediaType = requiredString(descriptor, 'mediaType', what);
  if (!MEDIA_TYPE_RE.test(mediaType)) throw malformed(what, `invalid media type ${quoteForMessage(mediaType)}`);
  checkDigest(descriptor.digest, what);
  const size = descriptor.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw malformed(what, `size must be a whole number of bytes, found ${typeName(size)}`);
  optionalStringList(descriptor, 'urls', what);
  optionalStringMap(descriptor, 'annotations', what);
  optionalString(descriptor, 'artifactType', what);
  optionalString(descriptor, 'data', what);
  if (descriptor.platform !== undefined) checkPlatform(descriptor.platform, `${what} platform`);
  return descriptor as unknown as Descriptor;
}

/**
 * Arrays and objects nested deeper than this are refused. Real documents nest five levels deep; kept
 * values are written out again (the store's index.json, inspect), and JSON.stringify overflows its
 * stack a few thousand levels down (Go's encoding/json, containerd's parser, stops at 10000).
 */
export const MAX_JSON_DEPTH = 100;

/** Whether JSON text nests arrays and objects deeper than MAX_JSON_DEPTH; a scan of the text, so it costs no stack. */
export function nestsTooDeep(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // an escaped character, '"' included
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** JSON.parse without echoing the input in the error: the bytes may be anything (a host file, a secret). */
export function parseJsonDocument(bytes: Uint8Array, what: string, limit: number): unknown {
  if (bytes.length > limit) throw malformed(what, `it is ${bytes.length} bytes, more than the ${limit} such a document may have`);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (nestsTooDeep(text)) throw malformed(what, `it nests more than ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw malformed(what, 'it is not valid JSON');
  }
}

function checkSchemaVersion(doc: JsonObject, what: string): void {
  if (doc.schemaVersion !== 2) throw malformed(what, `schemaVersion must be 2, found ${typeName(doc.schemaVersion)}`);
}

function checkCommon(doc: JsonObject, what: string): void {
  optionalString(doc, 'artifactType', what);
  optionalStringMap(doc, 'annotations', what);
  if (doc.subject !== undefined) checkDescriptor(doc.subject, `${what} subject`);
}

/** An image manifest (OCI or Docker schema 2). */
export function parseManifest(bytes: Uint8Array, what: string): ImageManifest {
  const doc = object(parseJsonDocument(bytes, what, MAX_MANIFEST_BYTES), what);
  checkSchemaVersion(doc, what);
  if (doc.mediaType !== undefined && !isManifestMediaType(doc.mediaType as string)) {
    throw malformed(what, `its mediaType ${quoteForMessage(doc.mediaType)} is not an image manifest's`);
  }
  checkCommon(doc, what);
  checkDescriptor(doc.config, `${what} config`);
  if (!Array.isArray(doc.layers)) throw malformed(what, 'layers must be a list');
  doc.layers.forEach((layer, i) => checkDescriptor(layer, `${what} layer ${i + 1}`));
  return doc as unknown as ImageManifest;
}

/** An image index (OCI) or manifest list (Docker). */
export function parseIndex(bytes: Uint8Array, what: string): ImageIndex {
  const doc = object(parseJsonDocument(bytes, what, MAX_MANIFEST_BYTES), what);
  checkSchemaVersion(doc, what);
  if (doc.mediaType !== undefined && !isIndexMediaType(doc.mediaType as string)) {
    throw malformed(what, `its mediaType ${quoteForMessage(doc.mediaType)} is not an image index's`);
  }
  checkCommon(doc, what);
  if (!Array.isArray(doc.manifests)) throw malformed(what, 'manifests must be a list');
  doc.manifests.forEach((child, i) => checkDescriptor(child, `${what} entry ${i + 1}`));
  return doc as unknown as ImageIndex;
}

export type ParsedDocument = { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

/** A manifest or an index, as its descriptor's media type says; any other media type is refused. */
export function parseManifestOrIndex(descriptor: Pick<Descriptor, 'mediaType'>, bytes: Uint8Array, what: string): ParsedDocument {
  if (isIndexMediaType(descriptor.mediaType)) return { kind: 'index', index: parseIndex(bytes, what) };
  if (isManifestMediaType(descriptor.mediaType)) return { kind: 'manifest', manifest: parseManifest(bytes, what) };
  throw unsupportedMediaType(descriptor.mediaType, what);
}

export function unsupportedMediaType(mediaType: string, what: string): GantryError {
  return new GantryError(`${what}: unsupported manifest media type ${quoteForMessage(mediaType)}`, {
    hint: `gantry reads ${[MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList].join(', ')}`,
  });
}

const CONFIG_MEDIA_TYPES = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);

/** Whether a manifest's config is a container image config (not an artifact's). */
export function isImageConfigMediaType(mediaType: string): boolean {
  return CONFIG_MEDIA_TYPES.has(mediaType);
}

function checkContainerConfig(value: unknown, what: string): ContainerConfig {
  const config = object(value, what);
  for (const field of ['User', 'WorkingDir', 'StopSignal']) optionalString(config, field, what);
  optionalStringList(config, 'Env', what, true);
  optionalStringList(config, 'Entrypoint', what, true);
  optionalStringList(config, 'Cmd', what, true);
  optionalStringList(config, 'OnBuild', what, true);
  optionalStringList(config, 'Shell', what, true);
  optionalStringMap(config, 'Labels', what);
  optionalObjectMap(config, 'ExposedPorts', what);
  optionalObjectMap(config, 'Volumes', what);
  if (config.ArgsEscaped !== undefined && typeof config.ArgsEscaped !== 'boolean') throw malformed(what, 'ArgsEscaped must be true or false');
  // Docker writes null for absent lists and maps; absent is what the rest of gantry expects.
  for (const field of ['Env', 'Shell', 'Labels', 'ExposedPorts', 'Volumes', 'Healthcheck']) if (config[field] === null) delete config[field];
  if (config.Healthcheck !== undefined) {
    const health = object(config.Healthcheck, `${what} Healthcheck`);
    optionalStringList(health, 'Test', `${what} Healthcheck`);
    for (const field of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries']) {
      if (health[field] !== undefined && typeof health[field] !== 'number') throw malformed(`${what} Healthcheck`, `${field} must be a number`);
    }
  }
  return config as unknown as ContainerConfig;
}

/** An image config: platform, rootfs diff IDs, the container config and history, each checked. */
export function parseImageConfig(bytes: Uint8Array, what: string): ImageConfig {
  const doc = object(parseJsonDocument(bytes, what, MAX_CONFIG_BYTES), what);
  requiredString(doc, 'architecture', what);
  requiredString(doc, 'os', what);
  for (const field of ['variant', 'os.version', 'created', 'author']) optionalString(doc, field, what);
  const rootfs = object(doc.rootfs, `${what} rootfs`);
  if (rootfs.type !== 'layers') throw malformed(what, `rootfs.type must be "layers", found ${typeName(rootfs.type)}`);
  if (!Array.isArray(rootfs.diff_ids)) throw malformed(what, 'rootfs.diff_ids must be a list');
  rootfs.diff_ids.forEach((id, i) => checkDigest(id, `${what} diff ID ${i + 1}`));
  // Docker writes `"config": null` for images without one.
  if (doc.config === null) delete doc.config;
  if (doc.history === null) delete doc.history;
  if (doc.config !== undefined) checkContainerConfig(doc.config, `${what} config`);
  if (doc.history !== undefined) {
    if (!Array.isArray(doc.history)) throw malformed(what, 'history must be a list');
    doc.history.forEach((entry, i) => {
      const item = object(entry, `${what} history ${i + 1}`);
      for (const field of ['created', 'created_by', 'author', 'comment']) optionalString(item, field, `${what} history ${i + 1}`);
      if (item.empty_layer !== undefined && typeof item.empty_layer !== 'boolean') throw malformed(`${what} history ${i + 1}`, 'empty_layer must be true or false');
    });
  }
  return doc as unknown as ImageConfig;
}

export interface DocumentExtras {
  artifactType?: string;
  subject?: Descriptor;
  /** Left out when empty. */
  annotations?: Record<string, string>;
}

/** An image manifest, fields in the order every gantry-written manifest has them (digests depend on it). */
export function imageManifest(config: Descriptor, layers: Descriptor[], extras: DocumentExtras & { mediaType?: string } = {}): ImageManifest {
  return {
    schemaVersion: 2,
    mediaType: extras.mediaType ?? MediaType.ociManifest,
    ...(extras.artifactType ? { artifactType: extras.artifactType } : {}),
    config,
    layers,
    ...(extras.subject ? { subject: extras.subject } : {}),
    ...(extras.annotations && Object.keys(extras.annotations).length > 0 ? { annotations: extras.annotations } : {}),
  };
}

/** An image index (OCI, or with `mediaType` Docker's manifest list), fields in gantry's order. */
export function imageIndex(manifests: Descriptor[], extras: DocumentExtras & { mediaType?: string } = {}): ImageIndex {
  return {
    schemaVersion: 2,
    mediaType: extras.mediaType ?? MediaType.ociIndex,
    ...(extras.artifactType ? { artifactType: extras.artifactType } : {}),
    manifests,
    ...(extras.subject ? { subject: extras.subject } : {}),
    ...(extras.annotations && Object.keys(extras.annotations).length > 0 ? { annotations: extras.annotations } : {}),
  };
}
