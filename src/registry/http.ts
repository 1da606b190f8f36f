/**
 * HTTP for registry traffic, over undici: retries with back-off on connection failures, 5xx and 429
 * (honouring Retry-After), redirects followed for GET and HEAD (Authorization dropped when the
 * redirect leaves the origin, as blob storage redirects do), and errors that name the request but never
 * its headers, so no credential can reach a message.
 */
import { Agent, errors, request, type Dispatcher } from 'undici';
import { GantryError, errnoCode, quoteForMessage } from '../util/index.js';
import type { ResolvedOptions } from './options.js';
import { backoffDelay, isConnectionError, isRetryableStatus, parseRetryAfter, sleep } from './retry.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  url: URL;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Skip certificate verification (an insecure registry). */
  insecureTls?: boolean;
  /**
   * Whether the request may be sent again after a connection failure, 5xx or 429. Defaults to true
   * for GET, HEAD, PUT and DELETE; a PATCH appends to an upload and must not be repeated blindly.
   */
  retryable?: boolean;
  /** Tries for this request (default: the session's retry.attempts). */
  attempts?: number;
  /** For messages, e.g. "GET localhost:5000/app manifest 1.0". */
  what: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** The URL that answered (after redirects). */
  url: URL;
  /** The least a body must deliver: `minBytes` per `windowMs` of waiting for it (see bodyChunks). */
  lowSpeed: { windowMs: number; minBytes: number };
}

/**
 * A body must bring at least this much per timeout period of waiting. undici's bodyTimeout catches a
 * silent server; this catches one that trickles a byte now and then to hold a build forever.
 */
const LOW_SPEED_MIN_BYTES = 1024;

/** A request that failed: a connection problem, or an answer we cannot use. */
export class RegistryError extends GantryError {
  constructor(
    message: string,
    readonly details: {
      status?: number;
      /** The registry's error code, e.g. MANIFEST_UNKNOWN, BLOB_UNKNOWN, DENIED. */
      code?: string;
      /** The connection failed (no answer), including TLS failures. */
      connection?: boolean;
      /** The server's certificate could not be verified. */
      certificate?: boolean;
      hint?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, { hint: details.hint, cause: details.cause });
    this.name = 'RegistryError';
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get code(): string | undefined {
    return this.details.code;
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const CERTIFICATE_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isCertificateError(err: unknown): boolean {
  const code = errnoCode(err);
  if (code !== undefined && CERTIFICATE_ERROR_CODES.has(code)) return true;
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? (err as { cause: unknown }).cause : undefined;
  return cause !== undefined && cause !== err && isCertificateError(cause);
}

/** Whether another try of a whole operation may succeed after this error. */
export function isTransientError(err: unknown): boolean {
  if (err instanceof RegistryError) {
    if (err.details.certificate) return false;
    if (err.details.connection) return true;
    return err.details.status !== undefined && isRetryableStatus(err.details.status);
  }
  return isConnectionError(err);
}

export class HttpTransport {
  private verifyingAgent?: Agent;
  private insecureAgent?: Agent;

  constructor(private readonly options: ResolvedOptions) {}

  async send(req: HttpRequest): Promise<HttpResponse> {
    const retryable = req.retryable ?? (req.method === 'GET' || req.method === 'HEAD' || req.method === 'PUT' || req.method === 'DELETE');
    const attempts = retryable ? (req.attempts ?? this.options.retry.attempts) : 1;
    const follow = req.method === 'GET' || req.method === 'HEAD';
    let url = req.url;
    let headers = { ...req.headers };
    let redirects = 0;
    for (let attempt = 1; ; attempt++) {
      let response: Dispatcher.ResponseData;
      try {
        response = await request(url, {
          method: req.method,
          headers: { 'user-agent': this.options.userAgent, ...headers },
          body: req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength),
          dispatcher: this.agent(req.insecureTls === true),
          headersTimeout: this.options.timeoutMs,
          bodyTimeout: this.options.timeoutMs,
        });
      } catch (err) {
        // A host name that does not resolve is an answer (from DNS), not a failed connection: trying again does not help.
        if (errnoCode(err) === 'ENOTFOUND') {
          throw new RegistryError(`${req.what}: the registry host ${url.hostname} was not found: ${describeCause(err)}`, {
            cause: err,
            hint: `check the registry name in the reference, and that this machine can resolve host names (DNS)`,
          });
        }
        if (isMalformedAnswer(err)) {
          throw new RegistryError(`${req.what}: the answer from ${url.host} is not valid HTTP: ${describeCause(err)}`, {
            cause: err,
            hint: 'the registry or a proxy in between is misbehaving',
          });
        }
        const certificate = isCertificateError(err);
        const connection = certificate || isConnectionError(err) || isTlsHandshakeError(err);
        if (!connection) throw err;
        if (!certificate && attempt < attempts) {
          await this.pause(req.what, attempt + 1, backoffDelay(attempt, this.options.retry.baseDelayMs, this.options.retry.maxDelayMs), describeCause(err));
          continue;
        }
        throw new RegistryError(`${req.what}: ${certificate ? 'certificate verification failed' : 'connection failed'} (${url.host}): ${describeCause(err)}`, {
          connection: true,
          certificate,
          cause: err,
          hint: certificate
            ? `if ${url.host} is a registry you trust with a self-signed certificate, mark it insecure (--insecure-registry ${url.host})`
            : attempts > 1
              ? `gave up after ${attempts} attempts`
              : undefined,
        });
      }
      const result: HttpResponse = {
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        body: response.body,
        url,
        lowSpeed: { windowMs: this.options.timeoutMs, minBytes: LOW_SPEED_MIN_BYTES },
      };
      if (follow && REDIRECT_STATUSES.has(result.status) && result.headers.location) {
        await discard(result);
        if (++redirects > MAX_REDIRECTS) throw new RegistryError(`${req.what}: too many redirects`, { status: result.status });
        const next = redirectTarget(result.headers.location, url, req.what);
        if (next.origin !== url.origin) headers = withoutAuthorization(headers);
        url = next;
        attempt--; // a redirect is not a failed attempt
        continue;
      }
      if (isRetryableStatus(result.status) && attempt < attempts) {
        const retryAfter = parseRetryAfter(result.headers['retry-after']);
        const delay = Math.min(retryAfter ?? backoffDelay(attempt, this.options.retry.baseDelayMs, this.options.retry.maxDelayMs), this.options.retry.maxDelayMs);
        await discard(result);
        await this.pause(req.what, attempt + 1, delay, `HTTP ${result.status}`);
        continue;
      }
      return result;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.verifyingAgent?.close(), this.insecureAgent?.close()]);
  }

  private agent(insecureTls: boolean): Agent {
    if (insecureTls) {
      this.insecureAgent ??= new Agent({ connect: { rejectUnauthorized: false } });
      return this.insecureAgent;
    }
    this.verifyingAgent ??= new Agent();
    return this.verifyingAgent;
  }

  private async pause(what: string, attempt: number, delayMs: number, reason: string): Promise<void> {
    this.options.onProgress({ kind: 'retry', what, attempt, delayMs, reason });
    await sleep(delayMs);
  }
}

/**
 * An answer that is not HTTP undici can read: headers past its size limit, a malformed status line,
 * header or chunk. The server answered, so trying again does not help.
 */
function isMalformedAnswer(err: unknown): boolean {
  return err instanceof errors.HeadersOverflowError || err instanceof errors.HTTPParserError;
}

/** A TLS client talking to a plain-HTTP server fails its handshake this way. */
export function isTlsHandshakeError(err: unknown): boolean {
  const code = errnoCode(err);
  if (code === 'EPROTO' || (code !== undefined && code.startsWith('ERR_SSL_'))) return true;
  const cause = typeof err === 'object' && err !== null && 'cause' in err ? (err as { cause: unknown }).cause : undefined;
  return cause !== undefined && cause !== err && isTlsHandshakeError(cause);
}

export async function discard(response: HttpResponse): Promise<void> {
  await response.body.dump().catch(() => undefined);
}

export async function readBody(response: HttpResponse, limit: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    await discard(response);
    throw new RegistryError(`${what}: the response is ${declared} bytes, more than the ${limit} allowed`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of bodyChunks(response, what)) {
    total += chunk.length;
    if (total > limit) {
      response.body.destroy();
      throw new RegistryError(`${what}: the response is more than the ${limit} bytes allowed`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * The chunks of a response body, failing it (as a broken connection, so a download resumes) when the
 * server delivers less than `lowSpeed.minBytes` in `lowSpeed.windowMs` of waiting. Only time spent
 * waiting for the server counts: a consumer that takes its time writing never trips it.
 */
export async function* bodyChunks(response: HttpResponse, what: string): AsyncGenerator<Buffer> {
  const { windowMs, minBytes } = response.lowSpeed;
  let waitedMs = 0;
  let received = 0;
  let waitingSince: number | undefined;
  let stalled: RegistryError | undefined;
  const check = setInterval(() => {
    const waited = waitedMs + (waitingSince === undefined ? 0 : Date.now() - waitingSince);
    if (waited < windowMs) return;
    if (received < minBytes) {
      stalled = new RegistryError(`${what}: the server sent ${received} bytes in ${Math.round(waited / 1000)} s`, { connection: true });
      response.body.destroy(stalled);
    }
    waitedMs = 0;
    received = 0;
    if (waitingSince !== undefined) waitingSince = Date.now();
  }, Math.min(windowMs, 1000));
  check.unref();
  const chunks = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      waitingSince = Date.now();
      const next = await chunks.next();
      waitedMs += Date.now() - waitingSince;
      waitingSince = undefined;
      if (next.done) return;
      received += next.value.length;
      yield next.value;
    }
  } catch (err) {
    if (stalled) throw stalled;
    // A body cut off or malformed (a bad chunk) is a broken connection: a blob download resumes; any other read fails clearly.
    if (isMalformedAnswer(err)) throw new RegistryError(`${what}: the body is not valid HTTP: ${describeCause(err)}`, { connection: true, cause: err });
    if (isConnectionError(err)) throw new RegistryError(`${what}: the connection broke while reading the answer: ${describeCause(err)}`, { connection: true, cause: err });
    throw err;
  } finally {
    clearInterval(check);
  }
}

/** A registry's error answer as a RegistryError: status, the registry's error code and message. */
export async function errorFromResponse(response: HttpResponse, what: string, hint?: string): Promise<RegistryError> {
  let text = '';
  try {
    text = (await readBody(response, 64 * 1024, what)).toString('utf8');
  } catch {
    // The status alone still tells what went wrong.
  }
  let code: string | undefined;
  let message = '';
  try {
    const parsed = JSON.parse(text) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = parsed.errors?.[0];
    if (first) {
      code = typeof first.code === 'string' ? first.code : undefined;
      message = typeof first.message === 'string' ? first.message : '';
    }
  } catch {
    // Not a registry error document (a proxy's HTML page, a plain 404).
  }
  const summary = code ? `${code}${message ? `: ${message}` : ''}` : `HTTP ${response.status}`;
  return new RegistryError(`${what}: ${summary}${code ? ` (HTTP ${response.status})` : ''}`, { status: response.status, code, hint });
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const result: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    result[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}

/** Where a redirect points; only http and https are followed (a registry must not send gantry to a file or another protocol). */
function redirectTarget(location: string, from: URL, what: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new RegistryError(`${what}: the registry redirected to an invalid location ${quoteForMessage(location)}`);
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new RegistryError(`${what}: the registry redirected to ${quoteForMessage(`${next.protocol}…`)}, which gantry does not follow`, {
      hint: 'registries redirect only to http or https locations; the registry or a proxy in between is misbehaving',
    });
  }
  return next;
}

function withoutAuthorization(headers: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (name.toLowerCase() !== 'authorization') result[name] = value;
  return result;
}

function describeCause(err: unknown): string {
  const code = errnoCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
