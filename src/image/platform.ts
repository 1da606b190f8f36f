/**
 * Platforms ("os/arch[/variant]") as containerd's platforms package reads, normalizes, prints and
 * matches them (what BuildKit uses for `FROM --platform` and the automatic platform args): aliases
 * such as x86_64 → amd64 and aarch64 → arm64, arm variants, arm64's default variant v8.
 */
import { arch as nodeArch } from 'node:os';
import { GantryError, goQuote } from '../util/index.js';
import type { Platform } from './types.js';

const SPECIFIER_RE = /^[A-Za-z0-9_.-]+$/;
const OS_RE = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$/;

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd',
  'openbsd', 'plan9', 'solaris', 'windows', 'zos',
]);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle',
  'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

/**
 * Parses a platform specifier. A lone OS or architecture is completed from `host` (containerd uses
 * the machine it runs on; the frontend passes the build platform). Throws a GantryError with
 * containerd's wording.
 */
export function parsePlatform(specifier: string, host: Platform): Platform {
  const invalid = (detail: string) => new GantryError(`${detail}: invalid argument`);
  if (specifier.includes('*')) throw invalid(`${goQuote(specifier)}: wildcards not yet supported`);
  const parts = splitN(specifier, '/', 4);
  const platform: Platform = { os: '', architecture: '' };
  for (const [i, part] of parts.entries()) {
    if (i === 0) {
      const os = OS_RE.exec(part);
      if (!os) {
        throw invalid(
          `${goQuote(part)} is an invalid OS component of ${goQuote(specifier)}: OSAndVersion specifier component must match ${goQuote(OS_RE.source)}`,
        );
      }
      platform.os = normalizeOs(os[1]!, host);
      const version = os[2] ? decodeURIComponent(os[2]) : '';
      if (version !== '') platform['os.version'] = version;
      if (os[3]) {
        const features = os[3].slice(1).split('+').map((f) => decodeURIComponent(f)).filter((f) => f !== '');
        if (features.length > 0) platform['os.features'] = features;
      }
    } else if (!SPECIFIER_RE.test(part)) {
      throw invalid(
        `${goQuote(part)} is an invalid component of ${goQuote(specifier)}: platform specifier component must match ${goQuote(SPECIFIER_RE.source)}`,
      );
    }
  }
  switch (parts.length) {
    case 1: {
      if (KNOWN_OS.has(platform.os)) {
        return withVariant({ ...platform, architecture: host.architecture }, platform.os === host.os ? host.variant : undefined);
      }
      const [architecture, variant] = normalizeArch(parts[0]!, '');
      if (KNOWN_ARCH.has(architecture)) {
        return withVariant({ os: host.os, architecture }, architecture === 'arm' && variant === 'v7' ? undefined : variant);
      }
      throw invalid(`${goQuote(specifier)}: unknown operating system or architecture`);
    }
    case 2: {
      const [architecture, variant] = normalizeArch(parts[1]!, '');
      return withVariant({ ...platform, architecture }, architecture === 'arm' && variant === 'v7' ? undefined : variant);
    }
    case 3: {
      const [architecture, variant] = normalizeArch(parts[1]!, parts[2]!);
      return withVariant({ ...platform, architecture }, architecture === 'arm64' && variant === '' ? 'v8' : variant);
    }
  }
  throw invalid(`${goQuote(specifier)}: cannot parse platform specifier`);
}

/** `os/arch[/variant]` (containerd's Format). */
export function formatPlatform(platform: Platform): string {
  if (!platform.os) return 'unknown';
  return [platform.os, platform.architecture, platform.variant].filter((part) => part).join('/');
}

/** Like formatPlatform, with the OS version and features: `windows(10.0.17763)/amd64` (FormatAll). */
export function formatPlatformAll(platform: Platform): string {
  if (!platform.os) return 'unknown';
  const version = platform['os.version'] ?? '';
  const features = [...new Set(platform['os.features'] ?? [])].sort();
  if (version === '' && features.length === 0) return formatPlatform(platform);
  const os = `${platform.os}(${encodeOsOption(version)}${features.length > 0 ? `+${features.map(encodeOsOption).join('+')}` : ''})`;
  return [os, platform.architecture, platform.variant].filter((part) => part).join('/');
}

/** Canonical names: "aarch64" becomes "arm64", "x86_64" "amd64", arm64 "v8" is dropped, and so on. */
export function normalizePlatform(platform: Platform): Platform {
  const [architecture, variant] = normalizeArch(platform.architecture, platform.variant ?? '');
  const normalized: Platform = { ...platform, os: platform.os.toLowerCase(), architecture };
  delete normalized.variant;
  if (variant !== '') normalized.variant = variant;
  return normalized;
}

function normalizeOs(os: string, host: Platform): string {
  if (os === '') return host.os;
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

function normalizeArch(arch: string, variant: string): [string, string] {
  let a = arch.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      a = '386';
      v = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      a = 'amd64';
      if (v === 'v1') v = '';
      break;
    case 'aarch64':
    case 'arm64':
      a = 'arm64';
      if (v === '8' || v === 'v8' || v === 'v8.0') v = '';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      break;
    case 'armhf':
      a = 'arm';
      v = 'v7';
      break;
    case 'armel':
      a = 'arm';
      v = 'v6';
      break;
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = `v${v}`;
      break;
  }
  return [a, v];
}

function withVariant(platform: Platform, variant: string | undefined): Platform {
  return variant ? { ...platform, variant } : platform;
}

function encodeOsOption(value: string): string {
  return value.replace(/%/g, '%25').replace(/\+/g, '%2B').replace(/\(/g, '%28').replace(/\)/g, '%29').replace(/\//g, '%2F');
}

function splitN(text: string, separator: string, limit: number): string[] {
  const parts = text.split(separator);
  if (parts.length <= limit) return parts;
  return [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(separator)];
}

/** The platform gantry runs on. */
export function hostPlatform(): Platform {
  return normalizePlatform({ os: 'linux', architecture: nodeArch() === 'x64' ? 'amd64' : nodeArch() });
}

/**
 * A platform typed by a user (--platform): the full os/arch[/variant] form, with a known OS and
 * architecture, so that a typo is an error here rather than a missing image later.
 */
export function parsePlatformFlag(text: string): Platform {
  const parts = text.trim().split('/');
  const bad = (why: string): never => {
    throw new GantryError(`invalid platform "${text}": ${why}`, {
      hint: 'platforms look like os/arch[/variant], e.g. linux/amd64, linux/arm64, linux/arm/v7',
    });
  };
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) bad('expected os/arch or os/arch/variant');
  let platform: Platform;
  try {
    platform = parsePlatform(text.trim(), hostPlatform());
  } catch (err) {
    return bad((err as Error).message);
  }
  if (!KNOWN_OS.has(platform.os)) bad(`unknown operating system "${parts[0]}"`);
  if (!KNOWN_ARCH.has(platform.architecture)) bad(`unknown architecture "${parts[1]}"`);
  return normalizePlatform(platform);
}

export function platformsEqual(a: Platform, b: Platform): boolean {
  return formatPlatform(normalizePlatform(a)) === formatPlatform(normalizePlatform(b));
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
