/**
 * Platforms ("os/arch[/variant]") with containerd's normalization and matching rules: aliases such as
 * x86_64 → amd64 and aarch64 → arm64, arm variants (v8 ≥ v7 ≥ v6 ≥ v5 are compatible downwards),
 * and arm64's default variant v8.
 */
import { arch as nodeArch } from 'node:os';
import { GantryError } from '../util/errors.js';
import type { Platform } from './types.js';

const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  x64: { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
  ia32: { architecture: '386' },
  ppc64el: { architecture: 'ppc64le' },
};

const KNOWN_OS = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix', 'android', 'ios', 'js', 'wasip1', 'plan9', 'dragonfly']);
const KNOWN_ARCH = new Set(['amd64', 'arm64', 'arm', '386', 'ppc64le', 'ppc64', 's390x', 'riscv64', 'mips', 'mipsle', 'mips64', 'mips64le', 'loong64', 'wasm']);

export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  let architecture = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase() || undefined;
  const alias = ARCH_ALIASES[architecture];
  if (alias) {
    architecture = alias.architecture;
    variant = variant ?? alias.variant;
  }
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  if (architecture === 'arm' && variant === '8') variant = 'v8';
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  const result: Platform = { os, architecture };
  if (variant) result.variant = variant;
  if (platform['os.version']) result['os.version'] = platform['os.version'];
  return result;
}

export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  const bad = (why: string): never => {
    throw new GantryError(`invalid platform "${text}": ${why}`, {
      hint: 'platforms look like os/arch[/variant], e.g. linux/amd64, linux/arm64, linux/arm/v7',
    });
  };
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) bad('expected os/arch or os/arch/variant');
  const [os, architecture, variant] = parts;
  const platform = normalizePlatform({ os, architecture, variant });
  if (!KNOWN_OS.has(platform.os)) bad(`unknown operating system "${os}"`);
  if (!KNOWN_ARCH.has(platform.architecture)) bad(`unknown architecture "${architecture}"`);
  return platform;
}

export function formatPlatform(platform: Platform): string {
  const p = normalizePlatform(platform);
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** The platform gantry runs on. */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: 'linux', architecture: nodeArch() === 'x64' ? 'amd64' : nodeArch() });
}

export function platformsEqual(a: Platform, b: Platform): boolean {
  return formatPlatform(a) === formatPlatform(b);
}

const ARM_VARIANT_ORDER = ['v5', 'v6', 'v7', 'v8'];

/**
 * Whether an image built for `candidate` runs on `wanted`, containerd-style: exact match, or an
 * older arm variant on a newer arm CPU. Ranking (exact first) is `platformMatchRank`.
 */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  return platformMatchRank(wanted, candidate) !== undefined;
}

/** Lower is better; undefined means no match. */
export function platformMatchRank(wanted: Platform, candidate: Platform): number | undefined {
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  if (w.os !== c.os) return undefined;
  if (w.architecture === c.architecture) {
    if (w.variant === c.variant) return 0;
    if (w.architecture === 'arm' && w.variant && c.variant) {
      const wi = ARM_VARIANT_ORDER.indexOf(w.variant);
      const ci = ARM_VARIANT_ORDER.indexOf(c.variant);
      if (wi >= 0 && ci >= 0 && ci < wi) return wi - ci;
    }
    if (w.architecture === 'amd64' && c.variant === undefined) return 1;
    return undefined;
  }
  // An arm64 CPU running 32-bit arm code (containerd's arm64 → arm/v8 fallback, only when asked for arm64 v8).
  if (w.architecture === 'arm64' && c.architecture === 'arm' && c.variant && ARM_VARIANT_ORDER.indexOf(c.variant) >= 0) {
    return 10 + (3 - ARM_VARIANT_ORDER.indexOf(c.variant));
  }
  return undefined;
}
