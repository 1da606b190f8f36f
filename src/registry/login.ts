/** `login` checks credentials against the registry before saving them; `logout` forgets them. */
import { GantryError } from '../util/index.js';
import { normalizeRegistryHost } from './credentials.js';
import { RegistryError } from './http.js';
import type { RegistryOptions } from './options.js';
import { RegistrySession } from './session.js';

export interface LoginResult {
  /** The registry logged in to, normalized ("docker.io", "localhost:5000"). */
  registry: string;
  /** Where the credentials went: "credential helper docker-credential-NAME", or the config.json path. */
  storedIn: string;
  /** The token server issued a refresh token, which was saved instead of the password. */
  identityToken: boolean;
}

/**
 * Verifies `username`/`password` against `registry` (its Basic or token authentication) and saves them
 * in the Docker config: through the configured credential helper, else base64 in config.json (mode 0600).
 */
export async function login(registry: string, username: string, password: string, options: RegistryOptions = {}): Promise<LoginResult> {
  const name = normalizeRegistryHost(registry);
  if (username === '') throw new GantryError('login needs a username');
  if (password === '') throw new GantryError('login needs a password', { hint: 'pass it with --password-stdin' });
  // A session of its own: these credentials, not the saved ones, and nothing cached from earlier calls.
  const session = new RegistrySession(options);
  try {
    const host = session.host(name);
    host.useCredentials({ username, password });
    await host.endpoint();
    let identityToken: string | undefined;
    try {
      if (host.authorizer.scheme === 'bearer') {
        identityToken = await host.authorizer.verifyWithTokenServer({ username, password });
      } else if (host.authorizer.scheme === 'basic') {
        const response = await host.request({ method: 'GET', target: '/v2/', scopes: [], what: `login to ${name}` });
        await response.body.dump();
        if (response.status !== 200) throw new RegistryError(`login to ${name}: HTTP ${response.status}`, { status: response.status });
      }
    } catch (err) {
      if (err instanceof RegistryError && (err.status === 401 || err.status === 403)) {
        throw new GantryError(`login to ${name} failed: incorrect username or password`, { hint: 'check the credentials; nothing was saved' });
      }
      throw err;
    }
    const storedIn = await session.credentialStore.store(name, identityToken ? { username, identityToken } : { username, password });
    return { registry: name, storedIn, identityToken: identityToken !== undefined };
  } finally {
    await session.close();
  }
}

/** Forgets the saved credentials for `registry`; returns whether there were any. */
export async function logout(registry: string, options: RegistryOptions = {}): Promise<boolean> {
  const session = new RegistrySession(options);
  try {
    return await session.credentialStore.erase(normalizeRegistryHost(registry));
  } finally {
    await session.close();
  }
}
