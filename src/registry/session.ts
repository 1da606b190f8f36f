/**
 * A registry session: options, HTTP connections, credentials, and one client per registry host that
 * knows how to reach it (HTTPS, or HTTP where allowed) and how to authenticate to it. Calls that share
 * an options object share a session, so a build that resolves many base images asks for each token once.
 */
import { GantryError } from '../util/index.js';
import { DEFAULT_REGISTRY } from '../image/index.js';
import { Authorizer, mergeScopes, parseWwwAuthenticate } from './auth.js';
import { DockerCredentialStore, normalizeRegistryHost, type Credentials } from './credentials.js';
import { discard, errorFromResponse, HttpTransport, RegistryError, type HttpMethod, type HttpResponse } from './http.js';
import { resolveOptions, type RegistryOptions, type ResolvedOptions } from './options.js';

/** Docker Hub's API lives on another host than its name. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export interface HostRequest {
  method: HttpMethod;
  /** A path on the registry ("/v2/app/manifests/1.0"), or an absolute URL (an upload Location). */
  target: string | URL;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Token scopes the request needs, e.g. "repository:app:pull". */
  scopes: string[];
  what: string;
  retryable?: boolean;
  attempts?: number;
}

interface Endpoint {
  base: URL;
  insecureTls: boolean;
}

export class RegistrySession {
  readonly options: ResolvedOptions;
  readonly transport: HttpTransport;
  readonly credentialStore: DockerCredentialStore;
  private readonly hosts = new Map<string, RegistryHost>();

  constructor(options: RegistryOptions) {
    this.options = resolveOptions(options);
    this.transport = new HttpTransport(this.options);
    this.credentialStore = new DockerCredentialStore(this.options.dockerConfigDir, this.options.env);
  }

  /** The client for a registry by name ("docker.io", "localhost:5000"). */
  host(registry: string): RegistryHost {
    const name = normalizeRegistryHost(registry);
    let client = this.hosts.get(name);
    if (!client) {
      client = new RegistryHost(this, name, name === DEFAULT_REGISTRY ? DOCKER_HUB_API_HOST : name);
      this.hosts.set(name, client);
    }
    return client;
  }

  /** The client for a pull mirror given as a URL ("https://mirror.example", "http://127.0.0.1:5001") or a bare host. */
  mirror(spec: string): RegistryHost {
    const key = `mirror ${spec}`;
    let client = this.hosts.get(key);
    if (!client) {
      const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(spec) ? spec : `https://${spec}`;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new GantryError(`registry mirror "${spec}" is not a URL`, { hint: 'mirrors look like https://mirror.example or http://localhost:5001' });
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new GantryError(`registry mirror "${spec}" must use http or https`);
      if (url.pathname !== '/' && url.pathname !== '') {
        throw new GantryError(`registry mirror "${spec}" has a path; mirrors with a path prefix are not supported`, {
          hint: 'give the mirror as scheme://host[:port]',
        });
      }
      const host = url.host.toLowerCase();
      const fixed: Endpoint | undefined =
        url.protocol === 'http:' ? { base: new URL(`http://${host}/`), insecureTls: false } : text === spec ? { base: new URL(`https://${host}/`), insecureTls: this.insecure(host).insecureTls } : undefined;
      client = new RegistryHost(this, host, host, fixed);
      this.hosts.set(key, client);
    }
    return client;
  }

  /** What a host may use: plain HTTP (listed insecure, or loopback), unverified TLS (listed insecure). */
  insecure(hostWithPort: string): { allowHttp: boolean; insecureTls: boolean } {
    const host = hostWithPort.toLowerCase();
    const hostname = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
    const listed = this.options.insecureRegistries.has(host) || this.options.insecureRegistries.has(hostname);
    return { allowHttp: listed || isLoopback(hostname), insecureTls: listed };
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}

export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** One registry host: its endpoint (found once, by pinging /v2/) and its authentication. */
export class RegistryHost {
  readonly authorizer: Authorizer;
  private endpointPromise?: Promise<Endpoint>;
  private credentialsPromise?: Promise<Credentials | undefined>;
  private credentialsOverride?: Credentials;

  constructor(
    private readonly session: RegistrySession,
    /** The registry's name: for messages and for looking up credentials. */
    readonly name: string,
    private readonly apiHost: string,
    private readonly fixedEndpoint?: Endpoint,
  ) {
    this.authorizer = new Authorizer({
      transport: session.transport,
      host: name,
      credentials: () => this.credentials(),
      insecureHost: (host) => session.insecure(host),
      clientId: session.options.userAgent,
    });
  }

  /** Uses these credentials instead of the Docker config's (to verify a login). */
  useCredentials(credentials: Credentials): void {
    this.credentialsOverride = credentials;
  }

  credentials(): Promise<Credentials | undefined> {
    if (this.credentialsOverride) return Promise.resolve(this.credentialsOverride);
    this.credentialsPromise ??= this.session.credentialStore.get(this.name);
    return this.credentialsPromise;
  }

  endpoint(): Promise<Endpoint> {
    this.endpointPromise ??= this.findEndpoint();
    // A failed ping is not remembered: the next operation tries again.
    this.endpointPromise.catch(() => (this.endpointPromise = undefined));
    return this.endpointPromise;
  }

  async request(req: HostRequest): Promise<HttpResponse> {
    const endpoint = await this.endpoint();
    const url = typeof req.target === 'string' ? new URL(req.target, endpoint.base) : req.target;
    // Credentials go only to the registry itself, never to another origin named in a Location.
    const sameOrigin = url.origin === endpoint.base.origin;
    let scopes = req.scopes;
    for (let authAttempt = 1; ; authAttempt++) {
      const headers = { ...req.headers };
      if (sameOrigin) {
        const authorization = await this.authorizer.authorization(scopes);
        if (authorization) headers.authorization = authorization;
      }
      const response = await this.session.transport.send({
        method: req.method,
        url,
        headers,
        body: req.body,
        insecureTls: endpoint.insecureTls || this.session.insecure(url.host).insecureTls,
        retryable: req.retryable,
        attempts: req.attempts,
        what: req.what,
      });
      if (response.status !== 401) return response;
      const challengeHeader = response.headers['www-authenticate'];
      await discard(response);
      if (sameOrigin && authAttempt === 1 && (await this.authorizer.unauthorized(challengeHeader, scopes, headers.authorization))) {
        const asked = challengeHeader ? parseWwwAuthenticate(challengeHeader).find((c) => c.scheme === 'bearer')?.params.scope : undefined;
        if (asked) scopes = mergeScopes([...scopes, ...asked.split(' ')]);
        continue;
      }
      throw await this.unauthorizedError(req.what);
    }
  }

  private async unauthorizedError(what: string): Promise<RegistryError> {
    const credentials = await this.credentials();
    return new RegistryError(`${what}: authentication required (HTTP 401)`, {
      status: 401,
      code: 'UNAUTHORIZED',
      hint: credentials ? `the credentials for ${this.name} were not accepted; log in again: gantry login ${this.name}` : `log in first: gantry login ${this.name}`,
    });
  }

  private async findEndpoint(): Promise<Endpoint> {
    if (this.fixedEndpoint) {
      await this.ping(this.fixedEndpoint, undefined);
      return this.fixedEndpoint;
    }
    const { allowHttp, insecureTls } = this.session.insecure(this.apiHost);
    const https: Endpoint = { base: new URL(`https://${this.apiHost}/`), insecureTls };
    try {
      // Where HTTP is a fallback, one HTTPS try is enough to learn whether the server speaks TLS.
      await this.ping(https, allowHttp ? 1 : undefined);
      return https;
    } catch (err) {
      const noTls = err instanceof RegistryError && err.details.connection === true && err.details.certificate !== true;
      if (!allowHttp || !noTls) throw err;
    }
    const http: Endpoint = { base: new URL(`http://${this.apiHost}/`), insecureTls: false };
    await this.ping(http, undefined);
    return http;
  }

  private async ping(endpoint: Endpoint, attempts: number | undefined): Promise<void> {
    const what = `connecting to registry ${this.name}`;
    const response = await this.session.transport.send({
      method: 'GET',
      url: new URL('/v2/', endpoint.base),
      insecureTls: endpoint.insecureTls,
      attempts,
      what,
    });
    if (response.status === 401) {
      const header = response.headers['www-authenticate'];
      await discard(response);
      if (header) this.authorizer.setChallenge(parseWwwAuthenticate(header));
      return;
    }
    if (response.status >= 200 && response.status < 300) {
      await discard(response);
      return;
    }
    if (response.status === 404) {
      await discard(response);
      throw new RegistryError(`${this.name} is not a container registry (no registry API at ${endpoint.base.protocol}//${endpoint.base.host}/v2/)`, { status: 404 });
    }
    throw await errorFromResponse(response, what);
  }
}

const sessions = new WeakMap<RegistryOptions, RegistrySession>();

/** The session for an options object: calls given the same object share endpoints, tokens and connections. */
export function sessionFor(options: RegistryOptions): RegistrySession {
  let session = sessions.get(options);
  if (!session) {
    session = new RegistrySession(options);
    sessions.set(options, session);
  }
  return session;
}

/** Closes the connections of the session for `options`; a later call with the same object opens a new one. */
export async function closeRegistrySession(options: RegistryOptions): Promise<void> {
  const session = sessions.get(options);
  sessions.delete(options);
  await session?.close();
}
