/**
 * Registry credentials in Docker's config format: `$DOCKER_CONFIG/config.json` (default
 * `~/.docker/config.json`) with `auths` entries (base64 `auth`, or username/password, or
 * identitytoken), and credential helpers (`credHelpers` per registry, `credsStore` for all) run as
 * `docker-credential-<name> get|store|erase` with JSON on stdin/stdout. Secrets never leave this module
 * in messages: helper output quoted in an error has them masked.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_REGISTRY } from '../image/index.js';
import { errnoCode, GantryError, writeFileAtomic } from '../util/index.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token, exchanged at the token server for access tokens. */
  identityToken?: string;
  /** A bearer token sent to the registry as-is. */
  registryToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  [other: string]: unknown;
}

interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

/** The key Docker uses for Docker Hub in config.json and with credential helpers. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** The username a credential helper returns when its secret is an identity token. */
const IDENTITY_TOKEN_USERNAME = '<token>';

/** "https://index.docker.io/v1/" → "docker.io"; "https://host:5000/v2/" → "host:5000". */
export function normalizeRegistryHost(input: string): string {
  let host = input.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  host = host.split('/')[0].toLowerCase();
  if (host === '') throw new GantryError(`"${input}" is not a registry host`, { hint: 'registry hosts look like ghcr.io or localhost:5000' });
  return DOCKER_HUB_ALIASES.has(host) ? DEFAULT_REGISTRY : host;
}

export function dockerConfigDir(explicit: string | undefined, env: NodeJS.ProcessEnv): string {
  if (explicit) return explicit;
  if (env.DOCKER_CONFIG) return env.DOCKER_CONFIG;
  return join(env.HOME || homedir(), '.docker');
}

export class DockerCredentialStore {
  readonly configPath: string;

  constructor(
    configDir: string | undefined,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.configPath = join(dockerConfigDir(configDir, env), 'config.json');
  }

  /** Credentials for a registry host, or undefined when none are configured. */
  async get(registryHost: string): Promise<Credentials | undefined> {
    const host = normalizeRegistryHost(registryHost);
    const config = await this.read();
    const helper = helperFor(config, host);
    if (helper) {
      const fromHelper = await this.helperGet(helper, host);
      if (fromHelper) return fromHelper;
    }
    const entry = findAuthEntry(config, host)?.[1];
    return entry ? decodeEntry(entry, this.configPath) : undefined;
  }

  /** Saves credentials; returns where they went ("credential helper docker-credential-X" or the config path). */
  async store(registryHost: string, credentials: Credentials): Promise<string> {
    const host = normalizeRegistryHost(registryHost);
    const config = await this.read();
    const helper = helperFor(config, host);
    if (helper) {
      const secret = credentials.identityToken ?? credentials.password ?? '';
      const username = credentials.identityToken ? IDENTITY_TOKEN_USERNAME : credentials.username ?? '';
      await this.runHelper(helper, 'store', JSON.stringify({ ServerURL: serverKey(host), Username: username, Secret: secret }), [secret]);
      return `credential helper docker-credential-${helper}`;
    }
    const auths = { ...(config.auths ?? {}) };
    const existing = findAuthEntry(config, host);
    if (existing) delete auths[existing[0]];
    const entry: AuthEntry = { auth: Buffer.from(`${credentials.username ?? ''}:${credentials.identityToken ? '' : credentials.password ?? ''}`).toString('base64') };
    if (credentials.identityToken) entry.identitytoken = credentials.identityToken;
    auths[serverKey(host)] = entry;
    await this.write({ ...config, auths });
    return this.configPath;
  }

  /** Forgets a registry's credentials; returns whether any were stored. */
  async erase(registryHost: string): Promise<boolean> {
    const host = normalizeRegistryHost(registryHost);
    const config = await this.read();
    let erased = false;
    const helper = helperFor(config, host);
    if (helper) {
      const result = await this.runHelper(helper, 'erase', serverKey(host), [], true);
      erased = result.ok;
    }
    const existing = findAuthEntry(config, host);
    if (existing) {
      const auths = { ...(config.auths ?? {}) };
      delete auths[existing[0]];
      await this.write({ ...config, auths });
      erased = true;
    }
    return erased;
  }

  private async read(): Promise<DockerConfigFile> {
    let text: string;
    try {
      text = await readFile(this.configPath, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return {};
      throw new GantryError(`cannot read ${this.configPath}: ${(err as Error).message}`);
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      return parsed as DockerConfigFile;
    } catch (err) {
      throw new GantryError(`${this.configPath} is not valid JSON: ${(err as Error).message}`, {
        hint: 'fix or remove the file; it holds registry logins in Docker\'s format',
      });
    }
  }

  private async write(config: DockerConfigFile): Promise<void> {
    // Owner-only: the file holds registry passwords.
    await writeFileAtomic(this.configPath, JSON.stringify(config, null, '\t') + '\n', { mode: 0o600 });
  }

  private async helperGet(helper: string, host: string): Promise<Credentials | undefined> {
    const result = await this.runHelper(helper, 'get', serverKey(host), [], true);
    if (!result.ok) {
      if (/credentials not found/i.test(result.output)) return undefined;
      throw new GantryError(`credential helper docker-credential-${helper} failed to get credentials for ${host}: ${firstLine(result.output)}`);
    }
    let parsed: { Username?: unknown; Secret?: unknown };
    try {
      parsed = JSON.parse(result.stdout) as { Username?: unknown; Secret?: unknown };
    } catch {
      throw new GantryError(`credential helper docker-credential-${helper} returned something other than JSON for ${host}`);
    }
    const username = typeof parsed.Username === 'string' ? parsed.Username : '';
    const secret = typeof parsed.Secret === 'string' ? parsed.Secret : '';
    if (username === '' && secret === '') return undefined;
    return username === IDENTITY_TOKEN_USERNAME ? { identityToken: secret } : { username, password: secret };
  }

  private runHelper(
    helper: string,
    action: 'get' | 'store' | 'erase',
    input: string,
    secrets: string[],
    tolerateFailure = false,
  ): Promise<{ ok: boolean; stdout: string; output: string }> {
    const program = `docker-credential-${helper}`;
    return new Promise((resolve, reject) => {
      const child = spawn(program, [action], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.on('error', (err) => {
        if (errnoCode(err) === 'ENOENT') {
          reject(new GantryError(`credential helper ${program} is not installed`, {
            hint: `install it, or remove "${helper}" from credsStore/credHelpers in ${this.configPath}`,
          }));
        } else reject(new GantryError(`cannot run credential helper ${program}: ${err.message}`));
      });
      child.on('close', (code) => {
        const output = mask(`${stdout}\n${stderr}`.trim(), secrets);
        if (code === 0) resolve({ ok: true, stdout, output });
        else if (tolerateFailure) resolve({ ok: false, stdout, output });
        else reject(new GantryError(`credential helper ${program} ${action} failed: ${firstLine(output)}`));
      });
      child.stdin.on('error', () => undefined); // a helper that exits without reading stdin is reported by its exit code
      child.stdin.end(input);
    });
  }
}

function helperFor(config: DockerConfigFile, host: string): string | undefined {
  const helpers = config.credHelpers ?? {};
  for (const [key, helper] of Object.entries(helpers)) {
    if (safeHost(key) === host && helper) return helper;
  }
  return config.credsStore || undefined;
}

function findAuthEntry(config: DockerConfigFile, host: string): [string, AuthEntry] | undefined {
  const auths = config.auths ?? {};
  const exact = auths[serverKey(host)];
  if (exact) return [serverKey(host), exact];
  return Object.entries(auths).find(([key]) => safeHost(key) === host);
}

function safeHost(key: string): string | undefined {
  try {
    return normalizeRegistryHost(key);
  } catch {
    return undefined;
  }
}

function serverKey(host: string): string {
  return host === DEFAULT_REGISTRY ? DOCKER_HUB_KEY : host;
}

function decodeEntry(entry: AuthEntry, configPath: string): Credentials | undefined {
  const credentials: Credentials = {};
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new GantryError(`an "auth" entry in ${configPath} is not base64 of "username:password"`);
    credentials.username = decoded.slice(0, colon);
    credentials.password = decoded.slice(colon + 1);
  }
  if (typeof entry.username === 'string' && entry.username !== '') credentials.username = entry.username;
  if (typeof entry.password === 'string' && entry.password !== '') credentials.password = entry.password;
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') credentials.identityToken = entry.identitytoken;
  if (typeof entry.registrytoken === 'string' && entry.registrytoken !== '') credentials.registryToken = entry.registrytoken;
  if (credentials.password === '') delete credentials.password;
  return Object.keys(credentials).length > 0 ? credentials : undefined;
}

function mask(text: string, secrets: string[]): string {
  let result = text;
  for (const secret of secrets) if (secret) result = result.split(secret).join('***');
  return result;
}

function firstLine(text: string): string {
  return text.split('\n')[0].slice(0, 200) || 'no output';
}
