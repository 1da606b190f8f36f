/**
 * Platform specifiers (`linux/arm64/v8`) as containerd's platforms package reads, normalizes and
 * prints them, which is what BuildKit uses for `FROM --platform` and the automatic platform args.
 */
import { GantryError } from '../util/errors.js';
import type { Platform } from '../image/types.js';
import { goQuote } from './go-text.js';

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
