/**
 * Registry settings for commands that talk to registries: --insecure-registry flags plus the user's
 * gantry config file (insecureRegistries, registryMirrors; see config-file.ts). Progress goes to
 * stderr, one line per finished transfer. The registry client is loaded on first use, so commands that
 * never reach a registry do not pay for its HTTP stack at start-up.
 */
import type { RegistryOptions, RegistryProgressEvent } from '../registry/index.js';
import { shortDigest } from '../util/digest.js';
import { readGantryConfig } from './config-file.js';
import { humanSize } from './context.js';

export function registryOptions(insecure: string[], log?: (line: string) => void, env: NodeJS.ProcessEnv = process.env): RegistryOptions {
  const config = readGantryConfig(env);
  return {
    insecureRegistries: [...config.insecureRegistries, ...insecure],
    mirrors: config.registryMirrors,
    onProgress: log ? (event) => describe(event, log) : undefined,
  };
}

function describe(event: RegistryProgressEvent, log: (line: string) => void): void {
  switch (event.kind) {
    case 'blob':
      if (event.phase === 'done') log(`${event.direction === 'push' ? 'pushed' : 'pulled'} ${shortDigest(event.digest)} ${humanSize(event.size)} (${humanSize(event.bytesPerSecond)}/s)`);
      else if (event.phase === 'exists') log(`${shortDigest(event.digest)} already exists`);
      else if (event.phase === 'mounted') log(`mounted ${shortDigest(event.digest)} from another repository`);
      break;
    case 'manifest':
      log(`${event.direction === 'push' ? 'pushed' : 'pulled'} manifest ${shortDigest(event.descriptor.digest)}${event.tag ? ` as ${event.tag}` : ''}`);
      break;
    case 'retry':
      log(`retrying ${event.what} in ${(event.delayMs / 1000).toFixed(1)}s (attempt ${event.attempt}): ${event.reason}`);
      break;
  }
}

let loaded: Promise<typeof import('../registry/index.js')> | undefined;

export function loadRegistry(): Promise<typeof import('../registry/index.js')> {
  return (loaded ??= import('../registry/index.js'));
}

/** Closes the registry connections of `options` if the registry client was ever loaded. */
export async function closeRegistrySessionIfLoaded(options: RegistryOptions): Promise<void> {
  if (loaded) await (await loaded).closeRegistrySession(options);
}
