/**
 * The registry use cases (and the HTTP stack under them) load on first use: commands that never reach
 * a registry do not pay for them at start-up. The bundle keeps them in a chunk of their own because
 * nothing imports them but through here.
 */
import type { RegistryOptions } from '../registry/index.js';

type RegistryUseCases = typeof import('./registry-use-cases.js');

let loaded: Promise<RegistryUseCases> | undefined;

export function loadRegistryUseCases(): Promise<RegistryUseCases> {
  return (loaded ??= import('./registry-use-cases.js'));
}

/** Closes the registry connections of `options` if the registry code was ever loaded. */
export async function closeRegistryIfLoaded(options: RegistryOptions): Promise<void> {
  if (loaded) await (await loaded).closeRegistrySession(options);
}
