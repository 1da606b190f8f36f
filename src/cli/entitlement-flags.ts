/**
 * The entitlements a build is granted, from three places: `--allow` (comma-separated, repeatable; an
 * unknown name is an error), the config file's "entitlements", and `--network host`, which is itself
 * the grant for network.host, as in buildx (build/build.go adds EntitlementNetworkHost for it).
 */
import { ENTITLEMENTS, isEntitlement, type Entitlement } from '../app/index.js';
import { GantryError } from '../util/index.js';
import type { GantryConfig } from './config-file.js';

export function grantedEntitlements(allow: string[], network: string, config: Pick<GantryConfig, 'entitlements'>): Set<Entitlement> {
  const granted = new Set<Entitlement>(config.entitlements);
  for (const name of allow.flatMap((value) => value.split(',')).map((part) => part.trim())) {
    if (name === '') continue;
    if (!isEntitlement(name)) throw new GantryError(`--allow ${name}: unknown entitlement`, { hint: `entitlements are ${ENTITLEMENTS.join(' and ')}` });
    granted.add(name);
  }
  if (network === 'host') granted.add('network.host');
  return granted;
}
