/**
 * Registry settings for commands that talk to registries: --insecure-registry flags plus the user's
 * gantry config file (insecureRegistries, registryMirrors; see config-file.ts). Progress goes to
 * stderr, one line per finished transfer.
 */
import type { RegistryOptions, RegistryProgressEvent } from '../app/index.js';
import { shortDigest } from '../util/index.js';
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
