/**
 * The user's gantry config file: $GANTRY_CONFIG, else $XDG_CONFIG_HOME/gantry/config.json (by default
 * ~/.config/gantry/config.json). A missing file is an empty config; one that is not JSON, or names an
 * unknown entitlement, is an error naming the file.
 *   {
 *     "insecureRegistries": ["host:port"],
 *     "registryMirrors": { "docker.io": ["https://mirror"] },
 *     "entitlements": ["network.host", "security.insecure"]
 *   }
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ENTITLEMENTS, isEntitlement, type Entitlement } from '../app/index.js';
import { errnoCode, GantryError } from '../util/index.js';

export interface GantryConfig {
  /** Where it was looked for, for messages. */
  path: string;
  insecureRegistries: string[];
  registryMirrors?: Record<string, string[]>;
  /** Granted to every build. */
  entitlements: Entitlement[];
}

interface ConfigFileText {
  insecureRegistries?: string[];
  registryMirrors?: Record<string, string[]>;
  entitlements?: unknown;
}

function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GANTRY_CONFIG) return env.GANTRY_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'gantry', 'config.json');
}

export function readGantryConfig(env: NodeJS.ProcessEnv = process.env): GantryConfig {
  const path = configPath(env);
  let parsed: ConfigFileText;
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    parsed = value && typeof value === 'object' ? (value as ConfigFileText) : {};
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') parsed = {};
    else throw new GantryError(`cannot read the gantry config ${path}: ${(err as Error).message}`, { hint: 'it must be JSON: {"insecureRegistries": [...], "registryMirrors": {...}, "entitlements": [...]}' });
  }
  return {
    path,
    insecureRegistries: parsed.insecureRegistries ?? [],
    registryMirrors: parsed.registryMirrors,
    entitlements: configEntitlements(parsed.entitlements, path),
  };
}

function configEntitlements(value: unknown, path: string): Entitlement[] {
  if (value === undefined) return [];
  const hint = `"entitlements" is a list of ${ENTITLEMENTS.map((e) => `"${e}"`).join(' and ')}`;
  if (!Array.isArray(value)) throw new GantryError(`the gantry config ${path}: "entitlements" must be a list`, { hint });
  return value.map((name: unknown) => {
    if (typeof name !== 'string' || !isEntitlement(name)) throw new GantryError(`the gantry config ${path}: unknown entitlement ${JSON.stringify(name)}`, { hint });
    return name;
  });
}
