/**
 * Registry authentication: the WWW-Authenticate challenge decides between anonymous access, Basic,
 * and Bearer tokens from a token server (Docker's token protocol, and OAuth2 refresh tokens for
 * identity tokens). Tokens are cached per scope set until shortly before they expire.
 */
import { GantryError } from '../util/index.js';
import type { Credentials } from './credentials.js';
import { errorFromResponse, readBody, RegistryError, type HttpTransport } from './http.js';

export interface Challenge {
  /** Lower-case scheme: "basic", "bearer". */
  scheme: string;
  /** Parameters with lower-case names: realm, service, scope, error... */
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate value, which may hold several challenges:
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull", Basic realm="x"`.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let pos = 0;
  const skipSpace = () => {
    while (pos < header.length && /[\s,]/.test(header[pos])) pos++;
  };
  const readToken = (): string => {
    const start = pos;
    while (pos < header.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(header[pos])) pos++;
    return header.slice(start, pos);
  };
  const readValue = (): string => {
    if (header[pos] !== '"') {
      // Unquoted: a token by the grammar, but servers send bare URLs too; a value ends at a comma or space.
      const start = pos;
      while (pos < header.length && !/[\s,]/.test(header[pos])) pos++;
      return header.slice(start, pos);
    }
    pos++;
    let value = '';
    while (pos < header.length && header[pos] !== '"') {
      if (header[pos] === '\\' && pos + 1 < header.length) pos++;
      value += header[pos++];
    }
    pos++; // closing quote
    return value;
  };
  skipSpace();
  while (pos < header.length) {
    const scheme = readToken();
    if (scheme === '') break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    challenges.push(challenge);
    for (;;) {
      while (pos < header.length && /\s/.test(header[pos])) pos++;
      if (header[pos] === ',') pos++;
      while (pos < header.length && /\s/.test(header[pos])) pos++;
      const mark = pos;
      const name = readToken();
      while (pos < header.length && /\s/.test(header[pos])) pos++;
      if (name === '' || header[pos] !== '=') {
        pos = mark; // the next challenge's scheme
        break;
      }
      pos++;
      while (pos < header.length && /\s/.test(header[pos])) pos++;
      challenge.params[name.toLowerCase()] = readValue();
    }
    skipSpace();
  }
  return challenges;
}

/** "repository:team/app:pull,push" */
export function repositoryScope(repository: string, actions: Array<'pull' | 'push'>): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/** Merges scopes naming the same resource ("repository:a:pull" + "repository:a:push" → "repository:a:pull,push"). */
export function mergeScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    const lastColon = scope.lastIndexOf(':');
    if (lastColon <= 0) {
      byResource.set(scope, byResource.get(scope) ?? new Set());
      continue;
    }
    const resource = scope.slice(0, lastColon);
    const actions = byResource.get(resource) ?? new Set<string>();
    for (const action of scope.slice(lastColon + 1).split(',')) if (action) actions.add(action);
    byResource.set(resource, actions);
  }
  return [...byResource.entries()]
    .map(([resource, actions]) => (actions.size > 0 ? `${resource}:${[...actions].sort().join(',')}` : resource))
    .sort();
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** How long a token is kept when the server does not say (Docker's token spec default). */
const DEFAULT_TOKEN_LIFETIME_S = 60;

export interface AuthorizerContext {
  transport: HttpTransport;
  /** The registry, for messages. */
  host: string;
  credentials: () => Promise<Credentials | undefined>;
  /** Whether plain HTTP / unverified TLS may be used to reach a token server at this host. */
  insecureHost: (host: string) => { allowHttp: boolean; insecureTls: boolean };
  clientId: string;
}

/** Answers one registry host's challenges. */
export class Authorizer {
  private challenge?: Challenge;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();

  constructor(private readonly context: AuthorizerContext) {}

  setChallenge(challenges: Challenge[]): void {
    this.challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic') ?? this.challenge;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  /** The Authorization header value for a request needing `scopes`, or undefined for anonymous. */
  async authorization(scopes: string[]): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const credentials = await this.context.credentials();
      if (!credentials?.username || credentials.password === undefined) return undefined;
      return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    }
    if (challenge.scheme === 'bearer') {
      const credentials = await this.context.credentials();
      if (credentials?.registryToken) return `Bearer ${credentials.registryToken}`;
      const token = await this.token(challenge, mergeScopes(scopes));
      return `Bearer ${token.token}`;
    }
    throw new GantryError(`${this.context.host} asks for "${challenge.scheme}" authentication, which gantry does not support`, {
      hint: 'gantry supports Basic and Bearer token authentication',
    });
  }

  /**
   * Takes in a 401's challenge; returns whether sending the request again with fresh authorization
   * may succeed. Called at most once per request, so a registry that keeps refusing ends in an error.
   */
  async unauthorized(wwwAuthenticate: string | undefined, scopes: string[], sentAuthorization: string | undefined): Promise<boolean> {
    const previous = this.challenge;
    if (wwwAuthenticate) this.setChallenge(parseWwwAuthenticate(wwwAuthenticate));
    const challenge = this.challenge;
    if (!challenge) return false;
    if (challenge.scheme === 'bearer') {
      const key = this.tokenKey(challenge, mergeScopes(scopes));
      // Requests refused in parallel renew the token once: only the token that was refused is dropped.
      if (`Bearer ${this.tokens.get(key)?.token}` === sentAuthorization) this.tokens.delete(key);
      return true;
    }
    if (challenge.scheme === 'basic') {
      // Worth a second try only if the first went out without credentials we have.
      const credentials = await this.context.credentials();
      return previous?.scheme !== 'basic' && credentials?.username !== undefined;
    }
    return false;
  }

  /**
   * Checks credentials by obtaining a token with them (for login). Returns a refresh token when the
   * server grants one for storing in place of the password.
   */
  async verifyWithTokenServer(credentials: Credentials): Promise<string | undefined> {
    const challenge = this.challenge;
    if (challenge?.scheme !== 'bearer') throw new Error('verifyWithTokenServer needs a bearer challenge');
    const result = await this.fetchToken(challenge, [], credentials, true);
    return result.refreshToken;
  }

  private tokenKey(challenge: Challenge, scopes: string[]): string {
    return `${challenge.params.realm ?? ''}\n${challenge.params.service ?? ''}\n${scopes.join(' ')}`;
  }

  private async token(challenge: Challenge, scopes: string[]): Promise<CachedToken> {
    const key = this.tokenKey(challenge, scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = (async () => {
        const credentials = await this.context.credentials();
        const { token } = await this.fetchToken(challenge, scopes, credentials, false);
        this.tokens.set(key, token);
        return token;
      })().finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async fetchToken(
    challenge: Challenge,
    scopes: string[],
    credentials: Credentials | undefined,
    offline: boolean,
  ): Promise<{ token: CachedToken; refreshToken?: string }> {
    const realm = this.realmUrl(challenge);
    const { insecureTls } = this.context.insecureHost(realm.host);
    const what = `token request to ${realm.host} for ${this.context.host}`;
    const service = challenge.params.service;
    let response;
    if (credentials?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: this.context.clientId });
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      response = await this.context.transport.send({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        insecureTls,
        retryable: true,
        what,
      });
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (credentials?.username && credentials.password !== undefined) {
        headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
        url.searchParams.set('account', credentials.username);
        if (offline) {
          url.searchParams.set('offline_token', 'true');
          url.searchParams.set('client_id', this.context.clientId);
        }
      }
      response = await this.context.transport.send({ method: 'GET', url, headers, insecureTls, what });
    }
    if (response.status === 401 || response.status === 403) {
      const err = await errorFromResponse(response, what);
      throw new RegistryError(`authentication to ${this.context.host} failed: ${credentials ? 'the credentials were refused' : 'anonymous access was refused'} (HTTP ${response.status})`, {
        status: response.status,
        code: err.code ?? 'UNAUTHORIZED',
        hint: credentials ? `check the login for ${this.context.host} (gantry login ${this.context.host})` : `log in first: gantry login ${this.context.host}`,
      });
    }
    if (response.status !== 200) throw await errorFromResponse(response, what);
    const body = await readBody(response, 1024 * 1024, what);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown; refresh_token?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw new RegistryError(`${what}: the token server's answer is not JSON`);
    }
    const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : '';
    if (token === '') throw new RegistryError(`${what}: the token server's answer holds no token`);
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const issuedAt = typeof parsed.issued_at === 'string' && !Number.isNaN(Date.parse(parsed.issued_at)) ? Math.min(Date.parse(parsed.issued_at), Date.now()) : Date.now();
    // Renew a little early so a token does not expire between being taken and being checked.
    const margin = Math.min(10_000, (lifetime * 1000) / 4);
    return {
      token: { token, expiresAt: issuedAt + lifetime * 1000 - margin },
      refreshToken: typeof parsed.refresh_token === 'string' && parsed.refresh_token !== '' ? parsed.refresh_token : undefined,
    };
  }

  private realmUrl(challenge: Challenge): URL {
    const realm = challenge.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new RegistryError(`${this.context.host} asks for a token but names no valid token server (realm "${realm ?? ''}")`);
    }
    if (url.protocol === 'http:' && !this.context.insecureHost(url.host).allowHttp) {
      throw new RegistryError(`${this.context.host} sends credentials to a token server over plain HTTP (${url.host}); refused`, {
        hint: `if that is intended, mark ${url.host} insecure (--insecure-registry ${url.host})`,
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RegistryError(`${this.context.host} names a token server with an unsupported URL scheme ${url.protocol}`);
    return url;
  }
}
