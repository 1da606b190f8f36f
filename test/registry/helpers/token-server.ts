/**
 * A token server for the registry's `auth.token` mode: checks Basic credentials (or a refresh token),
 * grants the requested scopes an access rule allows, and issues ES256 JWTs. distribution 2.8 finds
 * the signing key by the header's `kid`, which it compares with the libtrust fingerprint of each
 * certificate in its rootcertbundle: SHA-256 of the DER public key, first 240 bits, base32, in 12
 * colon-separated groups of 4.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface TokenRequestRecord {
  method: string;
  account?: string;
  scopes: string[];
  grantType?: string;
}

export interface TokenServerOptions {
  /** Signing key and its certificate (the registry's rootcertbundle). */
  keyPath: string;
  certificatePath: string;
  service: string;
  issuer: string;
  users: Record<string, string>;
  /** Which actions a user (undefined: anonymous) gets on a repository; default: all for users, none for anonymous. */
  allow?: (user: string | undefined, repository: string, action: string) => boolean;
  /** Seconds a token lives (sent as expires_in). */
  expiresIn?: number;
  /** Name of the token field in the answer. */
  tokenField?: 'token' | 'access_token';
  /** Sign with a key the registry does not trust (to provoke 401s from the registry). */
  untrusted?: boolean;
}

export interface TokenServer {
  realm: string;
  requests: TokenRequestRecord[];
  /** Every token and refresh token issued, to check none leaks. */
  issued: string[];
  options: TokenServerOptions;
  close(): Promise<void>;
}

export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const encoded = base32(hash);
  return encoded.match(/.{4}/g)?.join(':') ?? encoded;
}

function base32(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const trustedKey = createPrivateKey(readFileSync(options.keyPath));
  const untrustedKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const kid = libtrustKeyId(createPublicKey(readFileSync(options.certificatePath)));
  const requests: TokenRequestRecord[] = [];
  const issued: string[] = [];
  const refreshTokens = new Map<string, string>();
  const allow = options.allow ?? ((user) => user !== undefined);

  const issue = (user: string | undefined, scopes: string[]): string => {
    const access = scopes.flatMap((scope) => {
      const match = /^repository:(.+):([a-z*,]+)$/.exec(scope);
      if (!match) return [];
      const actions = match[2].split(',').filter((action) => allow(user, match[1], action));
      return actions.length > 0 ? [{ type: 'repository', name: match[1], actions }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', kid };
    const claims = { iss: options.issuer, sub: user ?? '', aud: options.service, exp: now + (options.expiresIn ?? 300), nbf: now - 5, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const key = options.untrusted ? untrustedKey : trustedKey;
    const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${signingInput}.${base64url(signature)}`;
    issued.push(token);
    return token;
  };

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://token');
    if (req.method === 'POST') {
      let text = '';
      for await (const chunk of req) text += (chunk as Buffer).toString();
      const form = new URLSearchParams(text);
      const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
      requests.push({ method: 'POST', scopes, grantType: form.get('grant_type') ?? undefined });
      const user = refreshTokens.get(form.get('refresh_token') ?? '');
      if (form.get('grant_type') !== 'refresh_token' || !user) return answer(res, 401, { error: 'invalid_grant' });
      return answer(res, 200, { [options.tokenField ?? 'token']: issue(user, scopes), expires_in: options.expiresIn ?? 300 });
    }
    const scopes = url.searchParams.getAll('scope');
    let user: string | undefined;
    const authorization = req.headers.authorization ?? '';
    if (authorization.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString();
      const colon = decoded.indexOf(':');
      const name = decoded.slice(0, colon);
      if (options.users[name] === undefined || options.users[name] !== decoded.slice(colon + 1)) {
        requests.push({ method: 'GET', account: name, scopes });
        return answer(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] });
      }
      user = name;
    }
    requests.push({ method: 'GET', account: user, scopes });
    const body: Record<string, unknown> = { [options.tokenField ?? 'token']: issue(user, scopes), expires_in: options.expiresIn ?? 300, issued_at: new Date().toISOString() };
    if (user && url.searchParams.get('offline_token') === 'true') {
      const refresh = randomBytes(16).toString('hex');
      refreshTokens.set(refresh, user);
      issued.push(refresh);
      body.refresh_token = refresh;
    }
    answer(res, 200, body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => answer(res, 500, { error: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    requests,
    issued,
    options,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

